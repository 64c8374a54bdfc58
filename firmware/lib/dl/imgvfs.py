"""A read-only filesystem over a packed software image stored in a slot (docs/download.md §3).

    v = ImageVfs(read_at, manifest); vfs.mount(v, "/slot1"); sys.path[:0] = ["/slot1/lib", ...]

The image's file table (dl.image.entries) names every file and where its bytes lie, so the slot
is run in place: imports read the .mpy files straight from the slot's flash, nothing is
unpacked or copied (the same idea as MicroPython's ROMFS, with our own verified format). Only
the table lives in RAM: one (offset, size, stored, method) per path. A deflated file (format 2)
is decompressed while it is read (dl.image.inflater: a DeflateIO with a 1 KiB window over its
stored bytes, copied to RAM while the file is open when they are at most INFLATE_RAM).
"""

import gc
import io

from micropython import const

from dl import image

_S_IFDIR = const(0x4000)
_S_IFREG = const(0x8000)
_ENOENT = const(2)
_EROFS = const(30)


class _File(io.IOBase):
    """A stored file: read straight from the slot."""

    def __init__(self, read_at, first, size, text):
        self._read_at = read_at
        self._first = first
        self._size = size
        self._pos = 0
        self._text = text

    def readinto(self, buf):
        n = min(len(buf), self._size - self._pos)
        if n <= 0:
            return 0
        self._read_at(self._first + self._pos, memoryview(buf)[:n])
        self._pos += n
        return n

    def read(self, n=-1):
        if n < 0:
            n = self._size - self._pos
        b = bytearray(max(0, min(n, self._size - self._pos)))
        self.readinto(b)
        return b.decode() if self._text else bytes(b)

    def ioctl(self, op, arg):
        return 0

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        pass


class _Deflated(_File):
    """A deflated file: decompressed on the fly, never past its SIZE (the image was verified,
    so the stream yields exactly SIZE bytes)."""

    def __init__(self, read_at, first, stored, size, text):
        super().__init__(read_at, first, size, text)
        self._d = image.inflater(read_at, first, stored)[0]

    def readinto(self, buf):
        n = min(len(buf), self._size - self._pos)
        if n <= 0:
            return 0
        n = self._d.readinto(buf if n == len(buf) else memoryview(buf)[:n])
        self._pos += n
        return n


class ImageVfs:
    def __init__(self, read_at, m):
        self._read_at = read_at
        self._files = {}
        dirs = {""}
        for path, size, _sha, at, stored, method in image.entries(read_at, m):
            self._files[path] = (at, size, stored, method)
            d = path
            while "/" in d:
                d = d.rsplit("/", 1)[0]
                dirs.add(d)
        self._dirs = dirs
        self._cwd = ""

    def _norm(self, path):
        return path.strip("/")

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def stat(self, path):
        p = self._norm(path)
        f = self._files.get(p)
        if f is not None:
            return (_S_IFREG, 0, 0, 0, 0, 0, f[1], 0, 0, 0)
        if p in self._dirs:
            return (_S_IFDIR, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        raise OSError(_ENOENT)

    def open(self, path, mode):
        if "w" in mode or "a" in mode or "+" in mode:
            raise OSError(_EROFS)
        f = self._files.get(self._norm(path))
        if f is None:
            raise OSError(_ENOENT)
        # Importing a tree from here must not leave the heap in pieces (a trial boot once had
        # 1.3 MB free but no 12 KB block, and its selftest failed): the port collects only when
        # the heap is full and the loader calls _File.readinto per 255-byte chunk, each call
        # leaving a little garbage, so every module's objects would lie between garbage spread
        # over the whole heap. A collection per file keeps the modules packed at the bottom.
        gc.collect()
        at, size, stored, method = f
        if method == image.METHOD_DEFLATE:
            return _Deflated(self._read_at, at, stored, size, "b" not in mode)
        return _File(self._read_at, at, size, "b" not in mode)

    def ilistdir(self, path):
        p = self._norm(path)
        if p not in self._dirs:
            raise OSError(_ENOENT)
        pre = p + "/" if p else ""
        seen = set()
        for name in self._files:
            if name.startswith(pre):
                head = name[len(pre) :].split("/", 1)
                if head[0] not in seen:
                    seen.add(head[0])
                    yield (head[0], _S_IFDIR if len(head) > 1 else _S_IFREG, 0)

    def chdir(self, path):
        self._cwd = self._norm(path)

    def getcwd(self):
        return "/" + self._cwd

    def statvfs(self, path):
        return (0,) * 10
