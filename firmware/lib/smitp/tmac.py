"""SMITP message authentication helpers (docs/crypto.md, spec facts §3).

- `crc32(data, crc=0)`: standard CRC-32 (reflected 0xEDB88320, init/xor-out 0xFFFFFFFF,
  check 0xCBF43926); chainable like zlib: crc32(b, crc32(a)) == crc32(a + b).
- `tmac(key, attr, aca, mon, crc32_value)`: first 8 bytes of AES-128-CMAC over the 16-byte
  M = ATTR(1) | ACA[0..2](3) | MON(8, big-endian) | CRC32(4, big-endian).
- `ctr_iv(aca, mon, answer=False)`: the AES-CTR initial counter block
  ACA(6) | MON(8, big-endian) | 00 01, or 80 01 for an answer.
- `crc32_start(st)`, `crc32_update(st, buf, off, n)`, `crc32_put_be(st, out, off)`: the same
  CRC-32 kept in a 4-byte state buffer, allocation-free on every port (binascii.crc32 returns an
  int that is a heap object above 2^30 on 32-bit ports); used by smitp.security.

ACA byte order: `aca` is taken as the 6 bytes exactly as the caller holds them and ACA[0..2]
means its first three bytes. Which on-air/stored order that corresponds to is not public; this
is the project's one choice for now, to be made configurable in the MAC layer where the ACA is
assembled. CHANGE IT THERE, not here.
"""

import micropython
from micropython import const

from smitp.crypto import Cmac

_POLY = const(0xEDB88320)

try:
    from binascii import crc32 as _crc32
except ImportError:  # pragma: no cover - ports built without binascii.crc32
    _crc32 = None


def _crc32_py(data, crc=0):
    # Bitwise reference implementation (no table: 1 KB of RAM matters more than speed here).
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (_POLY & -(crc & 1))
    return crc ^ 0xFFFFFFFF


@micropython.viper
def _crc_upd(st: ptr8, data: ptr8, off: int, n: int):
    # Bitwise, reflected polynomial; the constant is built from halves so no parser folds it
    # into a big-int literal on 32-bit ports.
    poly = (uint(0xEDB8) << 16) | uint(0x8320)
    c = uint(st[0]) | (uint(st[1]) << 8) | (uint(st[2]) << 16) | (uint(st[3]) << 24)
    i = 0
    while i < n:
        c ^= uint(data[off + i])
        k = 0
        while k < 8:
            c = (c >> 1) ^ (poly & (uint(0) - (c & 1)))
            k += 1
        i += 1
    st[0] = c & 0xFF
    st[1] = (c >> 8) & 0xFF
    st[2] = (c >> 16) & 0xFF
    st[3] = (c >> 24) & 0xFF


def crc32_start(st):
    """Reset a 4-byte CRC state buffer (register = 0xFFFFFFFF)."""
    st[0] = 0xFF
    st[1] = 0xFF
    st[2] = 0xFF
    st[3] = 0xFF


def crc32_update(st, buf, off, n):
    """Feed buf[off:off+n] into the state (no slicing, nothing allocated)."""
    if off < 0 or n < 0 or off + n > len(buf):
        raise ValueError("range")
    _crc_upd(st, buf, off, n)


def crc32_put_be(st, out, off):
    """Write the finished CRC (register xor 0xFFFFFFFF) big-endian into out[off:off+4]."""
    out[off] = st[3] ^ 0xFF
    out[off + 1] = st[2] ^ 0xFF
    out[off + 2] = st[1] ^ 0xFF
    out[off + 3] = st[0] ^ 0xFF


def crc32(data, crc=0):
    """Standard CRC-32 of data, continuing from a previous crc32() result."""
    if _crc32 is not None:
        return _crc32(data, crc) & 0xFFFFFFFF
    return _crc32_py(data, crc)


def _put_be(buf, off, value, n):
    i = off + n - 1
    while i >= off:
        buf[i] = value & 0xFF
        value >>= 8
        i -= 1


def tmac_block(attr, aca, mon, crc32_value, m=None):
    """The 16-byte CMAC input M (written into m if given)."""
    if m is None:
        m = bytearray(16)
    m[0] = attr
    m[1] = aca[0]
    m[2] = aca[1]
    m[3] = aca[2]
    _put_be(m, 4, mon, 8)
    _put_be(m, 12, crc32_value, 4)
    return m


def tmac(key, attr, aca, mon, crc32_value):
    """TMAC -> 8 bytes. `key` is a 16-byte key or a `smitp.crypto.Cmac` (cached subkeys)."""
    c = key if isinstance(key, Cmac) else Cmac(key)
    return bytes(c.cmac(tmac_block(attr, aca, mon, crc32_value))[:8])


def ctr_iv(aca, mon, answer=False):
    """AES-CTR IV: ACA(6) | MON(8, big-endian) | 00 01 (a request) or 80 01 (an answer, our
    choice: docs/smitp_security.md); incremented per block by crypto.ctr."""
    if len(aca) != 6:
        raise ValueError("aca")
    iv = bytearray(16)
    iv[0:6] = aca
    _put_be(iv, 6, mon, 8)
    if answer:
        iv[14] = 0x80
    iv[15] = 1
    return bytes(iv)
