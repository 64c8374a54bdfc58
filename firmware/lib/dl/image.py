"""Software image: parse and verify a packed image while it sits in flash (docs/download.md §2).

    code, m = verify(read_at, total, cmac, sha256, board, mpy, version)

`mpy` is the port's (version, feature byte): (_mpy & 0xFF, _mpy >> 8) of sys.implementation.
`read_at(off, buf)` fills `buf` from the stored image at byte `off` (a file, a flash region):
the image is never held in RAM; the largest buffer here is 256 bytes, but for the stored bytes
of one deflated file (at most INFLATE_RAM) while it is inflated. `cmac` is a
smitp.crypto.CmacStream under the download key, `sha256` the hashlib constructor. `code` is OK or
one of the refusal codes below (the NACK PAR1 of docs/smitp.md §2); `m` is the Manifest (None
when the header cannot be read). A refusal on a file names the file's stored byte range in
`m.bad`: the blocks a downloader would have to fetch again.

Format 2 stores a file either as it is (METHOD_STORED) or as raw deflate (RFC 1951) with a
window of at most 1 KiB (METHOD_DEFLATE); its SHA-256 is always over the uncompressed file, so
verify decompresses it (inflater: deflate.DeflateIO over the stored bytes) and bounds the work
to SIZE + 1 output bytes: a stream that would produce more is refused, not expanded.
"""

import io

from micropython import const

OK = const(0)
E_TAG = const(20)  # the manifest's AES-CMAC does not verify under the download key
E_FORMAT = const(21)  # truncated, inconsistent or reordered: magic, lengths, a file hash
E_BOARD = const(22)  # built for another board or another .mpy ABI
E_DOWNGRADE = const(23)  # version not above the running one, and no downgrade flag

MAGIC = b"MMIG"
FORMAT_1 = const(1)  # entry: PATHLEN PATH SIZE(4) SHA256(32); every file stored as it is
FORMAT_2 = const(2)  # entry: PATHLEN PATH SIZE(4) STORED(4) METHOD(1) SHA256(32)
FLAG_DOWNGRADE = const(1)
HDR = const(48)  # fixed header; the file table follows up to MLEN
TAG = const(16)
METHOD_STORED = const(0)
METHOD_DEFLATE = const(1)  # raw deflate, no zlib header
WBITS = const(10)  # deflate window: 2**10 = 1 KiB, the RAM a reader of the file needs
_HASH = const(32)
_CHUNK = const(256)
_RAW_BUF = const(128)  # RawReader's buffer: DeflateIO asks its source for one byte at a time
# A deflated file of at most this many stored bytes is copied into one io.BytesIO, which
# DeflateIO reads natively (measured 8x faster on the unix port than a Python-level source,
# which costs one method call per stored byte); a larger one, or when that block cannot be
# had, streams through a RawReader with a 128-byte buffer.
INFLATE_RAM = const(8192)


class Manifest:
    """The fixed header fields (docs/download.md §2.1)."""

    def __init__(self, h):
        self.format = h[4]
        self.flags = h[5]
        self.mlen = (h[6] << 8) | h[7]
        self.board = bytes(h[8:24]).rstrip(b" ").decode()
        self.version = _u32(h, 24)
        self.mpy = (h[28], h[29])
        self.nfiles = (h[30] << 8) | h[31]
        self.payload = _u32(h, 32)
        self.legal_id = bytes(h[36:44])
        self.legal_crc = _u32(h, 44)
        self.tag = None  # bytes, once read
        self.bad = None  # (first, end) stored byte range of a file that failed its check

    def total(self):
        return self.mlen + TAG + self.payload

    def image_id(self):
        """The first 4 bytes of the tag: the id the transfer messages carry."""
        return self.tag[:4]


def _u32(b, o):
    return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]


def header(read_at, total):
    """The Manifest of a stored image, or None when it cannot be one (too short, bad magic)."""
    if total < HDR + TAG:
        return None
    h = bytearray(HDR)
    read_at(0, h)
    if h[0:4] != MAGIC or h[4] not in (FORMAT_1, FORMAT_2):
        return None
    m = Manifest(h)
    if m.mlen < HDR:
        return None
    return m


def entries(read_at, m):
    """Yield (path str, size, sha256 bytes, data offset, stored, method) for every file, in
    table order: `size` uncompressed, `stored` the bytes at `data offset` (= size when stored as
    it is). Raises ValueError when the table does not exactly fill the manifest or an entry is
    impossible (unknown method, a stored file whose two lengths differ)."""
    buf = bytearray(_CHUNK + 45)
    fixed = 4 + _HASH if m.format == FORMAT_1 else 4 + 4 + 1 + _HASH
    off = HDR
    data = m.mlen + TAG
    for _ in range(m.nfiles):
        if off >= m.mlen:
            raise ValueError("table")
        one = memoryview(buf)[:1]
        read_at(off, one)
        n = buf[0]
        if n == 0 or off + 1 + n + fixed > m.mlen:
            raise ValueError("entry")
        read_at(off + 1, memoryview(buf)[1 : 1 + n + fixed])
        path = bytes(buf[1 : 1 + n]).decode()
        size = _u32(buf, 1 + n)
        stored, method = size, METHOD_STORED
        if m.format == FORMAT_2:
            stored, method = _u32(buf, 5 + n), buf[9 + n]
            if method > METHOD_DEFLATE or (method == METHOD_STORED and stored != size):
                raise ValueError("method")
        sha = bytes(buf[1 + n + fixed - _HASH : 1 + n + fixed])
        yield path, size, sha, data, stored, method
        data += stored
        off += 1 + n + fixed
    if off != m.mlen or data != m.total():
        raise ValueError("table end")


class RawReader(io.IOBase):
    """A read-only stream over `n` stored bytes from `first`, read through a small buffer:
    the source of a DeflateIO (which reads one byte per call)."""

    def __init__(self, read_at, first, n):
        self._read_at = read_at
        self._next = first  # slot offset of the next refill
        self._left = n  # stored bytes not yet in the buffer
        self._buf = bytearray(_RAW_BUF)
        self._pos = 0
        self._end = 0
        self._done = 0

    def readinto(self, buf):
        if self._pos == self._end:
            k = min(_RAW_BUF, self._left)
            if k == 0:
                return 0
            b = self._buf
            self._read_at(self._next, b if k == _RAW_BUF else memoryview(b)[:k])
            self._next += k
            self._left -= k
            self._pos, self._end = 0, k
        k = min(len(buf), self._end - self._pos)
        if k == 1:
            buf[0] = self._buf[self._pos]
        else:
            buf[:k] = memoryview(self._buf)[self._pos : self._pos + k]
        self._pos += k
        self._done += k
        return k

    def tell(self):
        """Stored bytes handed out so far."""
        return self._done

    def ioctl(self, op, arg):
        return 0


def _in_ram(read_at, first, stored):
    """The stored bytes in one io.BytesIO (positioned at 0), or None without the RAM."""
    try:
        b = io.BytesIO(stored)
    except MemoryError:
        return None
    chunk = bytearray(min(stored, _CHUNK))
    end = first + stored
    while first < end:
        k = min(len(chunk), end - first)
        mv = memoryview(chunk)[:k]
        read_at(first, mv)
        b.write(mv)
        first += k
    b.seek(0)
    return b


def inflater(read_at, first, stored):
    """(DeflateIO over the stored bytes, its source: .tell() = stored bytes it consumed)."""
    import deflate

    src = _in_ram(read_at, first, stored) if stored <= INFLATE_RAM else None
    if src is None:
        src = RawReader(read_at, first, stored)
    return deflate.DeflateIO(src, deflate.RAW, WBITS), src


def hash_range(read_at, first, n, sha256, buf):
    """SHA-256 of n stored bytes from `first`, read through `buf`."""
    h = sha256()
    mv = memoryview(buf)
    while n > 0:
        k = min(n, len(buf))
        read_at(first, mv[:k])
        h.update(mv[:k])
        first += k
        n -= k
    return h.digest()


def hash_deflated(read_at, first, stored, size, sha256, buf):
    """SHA-256 of a deflated file's output, or None when the stream is damaged, ends before
    SIZE, would go on past SIZE (at most SIZE + 1 bytes are produced: a bomb costs no more than
    an honest file) or leaves stored bytes unused."""
    d, src = inflater(read_at, first, stored)
    h = sha256()
    mv = memoryview(buf)
    got = 0
    try:
        while got <= size:
            want = min(len(buf), size + 1 - got)
            k = d.readinto(buf if want == len(buf) else mv[:want])
            if not k:
                break
            if got + k <= size:
                h.update(buf if k == len(buf) else mv[:k])
            got += k
    except (OSError, EOFError):  # what DeflateIO raises on a damaged or truncated stream
        return None
    if got != size or src.tell() != stored:
        return None
    return h.digest()


def check_tag(read_at, m, cmac):
    """True if the manifest's AES-CMAC verifies; sets m.tag."""
    buf = bytearray(_CHUNK)
    mv = memoryview(buf)
    off = 0
    while off < m.mlen:
        k = min(_CHUNK, m.mlen - off)
        read_at(off, mv[:k])
        cmac.update(mv[:k])
        off += k
    want = bytearray(TAG)
    read_at(m.mlen, want)
    m.tag = bytes(want)
    got = cmac.final_into(bytearray(TAG))
    diff = 0
    for i in range(TAG):
        diff |= got[i] ^ want[i]
    return diff == 0


def verify(read_at, total, cmac, sha256, board, mpy, version):
    """Every check of docs/download.md §2.3, in that order; -> (code, Manifest or None)."""
    m = header(read_at, total)
    if m is None:
        return E_FORMAT, None
    if total != m.total():
        return E_FORMAT, m
    if not check_tag(read_at, m, cmac):
        return E_TAG, m
    if m.board != board or m.mpy[0] != mpy[0] or m.mpy[1] not in (0, mpy[1]):
        return E_BOARD, m
    if m.version <= version and not m.flags & FLAG_DOWNGRADE:
        return E_DOWNGRADE, m
    buf = bytearray(_CHUNK)
    try:
        for _path, size, sha, at, stored, method in entries(read_at, m):
            if method == METHOD_STORED:
                got = hash_range(read_at, at, size, sha256, buf)
            else:
                got = hash_deflated(read_at, at, stored, size, sha256, buf)
            if got != sha:
                m.bad = (at, at + stored)
                return E_FORMAT, m
    except ValueError:
        return E_FORMAT, m
    return OK, m
