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

from crc import crc32, crc32_put_be, crc32_start, crc32_update  # noqa: F401 - this module's API

from smitp.crypto import Cmac


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
