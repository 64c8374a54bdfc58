"""MicroPython side of host_tests/py/test_dl_deflate.py (not a pytest module): the meter's
verifier (dl.image.verify) and image VFS (dl.imgvfs.ImageVfs) over images the CPython packer
built, one command per run:

    verify KEY BOARD IMG...         -> per image "IMG CODE BAD READ" (BAD "-" or FIRST-END;
                                       READ = image bytes read through read_at)
    read KEY BOARD IMG PIECE        -> per file "file PATH STATSIZE SHA_READ SHA_PIECES
                                       SHA_READINTO" (whole read(), read(PIECE) until empty,
                                       readinto a PIECE-byte buffer until 0; hex SHA-256s)
    import KEY BOARD IMG MODULE     -> "value REPR" of MODULE.VALUE, imported from the mounted
                                       image ("/mmslot9" and "/mmslot9/lib" first on sys.path)
    heap KEY BOARD IMG PATH         -> "heap OPEN READ": gc.mem_alloc() growth when PATH is
                                       opened, and when it is then read to the end through one
                                       256-byte buffer (no collection in between)
"""

import gc
import hashlib
import sys

from dl import bootsel, image
from dl.imgvfs import ImageVfs
from smitp.crypto import CmacStream

MOUNT = "/mmslot9"


class Slot:
    """An image file read at offsets, counting the bytes read."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.f.seek(0, 2)
        self.total = self.f.tell()
        self.read = 0

    def read_at(self, off, buf):
        self.f.seek(off)
        self.f.readinto(buf)
        self.read += len(buf)


def verify(key, board, path):
    s = Slot(path)
    code, m = image.verify(
        s.read_at, s.total, CmacStream(key), hashlib.sha256, board, bootsel.port_mpy(), 0
    )
    return s, code, m


def verified(key, board, path):
    s, code, m = verify(key, board, path)
    if code != image.OK:
        raise SystemExit("image refused: %d" % code)
    return s, m


def sha_hex(h):
    return h.digest().hex()


def read_all(v, path, piece):
    with v.open(path, "rb") as f:
        whole = hashlib.sha256(f.read())
    h = hashlib.sha256()
    with v.open(path, "rb") as f:
        while True:
            b = f.read(piece)
            if not b:
                break
            h.update(b)
    h2 = hashlib.sha256()
    buf = bytearray(piece)
    with v.open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h2.update(memoryview(buf)[:n])
    return sha_hex(whole), sha_hex(h), sha_hex(h2)


def main():
    cmd, key, board = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
    args = sys.argv[4:]
    if cmd == "verify":
        for path in args:
            s, code, m = verify(key, board, path)
            bad = "-" if m is None or m.bad is None else "%d-%d" % m.bad
            print(path, code, bad, s.read)
        return
    s, m = verified(key, board, args[0])
    v = ImageVfs(s.read_at, m)
    if cmd == "read":
        for path, _size, _sha, _at, _stored, _method in image.entries(s.read_at, m):
            print("file", path, v.stat(path)[6], *read_all(v, path, int(args[1])))
    elif cmd == "import":
        import vfs

        vfs.mount(v, MOUNT)
        sys.path[:0] = [MOUNT, MOUNT + "/lib"]
        mod = __import__(args[1])
        print("value", repr(mod.VALUE), mod.__file__)
    elif cmd == "heap":
        buf = bytearray(256)
        gc.collect()
        gc.disable()
        a0 = gc.mem_alloc()
        f = v.open(args[1], "rb")
        a1 = gc.mem_alloc()
        while f.readinto(buf):
            pass
        a2 = gc.mem_alloc()
        gc.enable()
        print("heap", a1 - a0, a2 - a1)


main()
