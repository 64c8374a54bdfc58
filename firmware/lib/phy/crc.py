"""CRC-32 (reflected 0xEDB88320, init/xorout 0xFFFFFFFF) and CRC-8 (poly 0x07, init 0).

The 32-bit register is kept as two 16-bit halves so that no value ever leaves the small-int
range of a 32-bit port: no heap allocation.
"""

from array import array

import micropython

from phy.tables import CRC32_T

_out = array("H", (0, 0))


@micropython.viper
def _crc32(buf: ptr8, n: int, t: ptr16, out: ptr16):
    lo = 0xFFFF
    hi = 0xFFFF
    i = 0
    while i < n:
        idx = (lo ^ buf[i]) & 0xFF
        lo = ((lo >> 8) | ((hi & 0xFF) << 8)) ^ t[idx]
        hi = (hi >> 8) ^ t[256 + idx]
        i += 1
    out[0] = lo ^ 0xFFFF
    out[1] = hi ^ 0xFFFF


def crc32_put(buf, n):
    """Append the CRC-32 of buf[:n] little-endian at buf[n:n+4]."""
    _crc32(buf, n, CRC32_T, _out)
    lo = _out[0]
    hi = _out[1]
    buf[n] = lo & 0xFF
    buf[n + 1] = lo >> 8
    buf[n + 2] = hi & 0xFF
    buf[n + 3] = hi >> 8


def crc32_ok(buf, n):
    """True if buf[n:n+4] holds the CRC-32 of buf[:n]."""
    _crc32(buf, n, CRC32_T, _out)
    lo = _out[0]
    hi = _out[1]
    return (
        buf[n] == lo & 0xFF
        and buf[n + 1] == lo >> 8
        and buf[n + 2] == hi & 0xFF
        and buf[n + 3] == hi >> 8
    )


def crc32(data):
    """CRC-32 as an int, for tests and tools (may allocate a long int on 32-bit ports)."""
    _crc32(data, len(data), CRC32_T, _out)
    return (_out[1] << 16) | _out[0]


def crc8(buf, n):
    c = 0
    for i in range(n):
        c ^= buf[i]
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
    return c
