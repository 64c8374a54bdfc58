"""Software image: parse and verify a packed image while it sits in flash (docs/download.md §2).

    code, m = verify(read_at, total, cmac, sha256, board, mpy, version)

`mpy` is the port's (version, feature byte): (_mpy & 0xFF, _mpy >> 8) of sys.implementation.
`read_at(off, buf)` fills `buf` from the stored image at byte `off` (a file, a flash region):
the image is never held in RAM; the largest buffer here is 256 bytes. `cmac` is a
smitp.crypto.CmacStream under the download key, `sha256` the hashlib constructor. `code` is OK or
one of the refusal codes below (the NACK PAR1 of docs/smitp.md §2); `m` is the Manifest (None
when the header cannot be read). A refusal on a file's hash names the file's byte range in
`m.bad` so the downloader can forget only those blocks.
"""

from micropython import const

OK = const(0)
E_TAG = const(20)  # the manifest's AES-CMAC does not verify under the download key
E_FORMAT = const(21)  # truncated, inconsistent or reordered: magic, lengths, a file hash
E_BOARD = const(22)  # built for another board or another .mpy ABI
E_DOWNGRADE = const(23)  # version not above the running one, and no downgrade flag

MAGIC = b"MMIG"
FORMAT = const(1)
FLAG_DOWNGRADE = const(1)
HDR = const(48)  # fixed header; the file table follows up to MLEN
TAG = const(16)
_HASH = const(32)
_CHUNK = const(256)


class Manifest:
    """The fixed header fields (docs/download.md §2.1)."""

    def __init__(self, h):
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
        self.bad = None  # (first, end) byte range of a file whose hash failed

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
    if h[0:4] != MAGIC or h[4] != FORMAT:
        return None
    m = Manifest(h)
    if m.mlen < HDR:
        return None
    return m


def entries(read_at, m):
    """Yield (path str, size, sha256 bytes, data offset) for every file, in table order.
    Raises ValueError when the table does not exactly fill the manifest."""
    buf = bytearray(_CHUNK + 40)
    off = HDR
    data = m.mlen + TAG
    for _ in range(m.nfiles):
        if off >= m.mlen:
            raise ValueError("table")
        one = memoryview(buf)[:1]
        read_at(off, one)
        n = buf[0]
        if n == 0 or off + 1 + n + 4 + _HASH > m.mlen:
            raise ValueError("entry")
        rest = memoryview(buf)[1 : 1 + n + 4 + _HASH]
        read_at(off + 1, rest)
        path = bytes(buf[1 : 1 + n]).decode()
        size = _u32(buf, 1 + n)
        sha = bytes(buf[1 + n + 4 : 1 + n + 4 + _HASH])
        yield path, size, sha, data
        data += size
        off += 1 + n + 4 + _HASH
    if off != m.mlen or data != m.total():
        raise ValueError("table end")


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
        for _path, size, sha, at in entries(read_at, m):
            if hash_range(read_at, at, size, sha256, buf) != sha:
                m.bad = (at, at + size)
                return E_FORMAT, m
    except ValueError:
        return E_FORMAT, m
    return OK, m
