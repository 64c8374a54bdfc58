"""The mode C data readout: a configurable list of OBIS-coded lines built from live values.

A readout list is a list of "CODE:SOURCE" strings (config key `optical_readout`), e.g.
"C.1.0:serial" -> `C.1.0(MM0000000001)`. SOURCE names a value source in `SOURCES`; a source
factory takes (meter, registers, arg) and returns a callable giving the value bytes (unit
included, parentheses excluded). Other layers plug in their own with `SOURCES[name] = factory`.
docs/optical.md lists the sources and formats.
"""

import civiltime
from micropython import const

from optical.iec21 import hexlify

_LINE_INSIDE_MAX = const(49)  # value (<= 32) '*' unit (<= 16)
_CODE_MAX = const(16)


class Readout:
    def __init__(self, entries):
        self.entries = entries  # [(code bytes, value callable)]

    def build(self, buf):
        """Write the lines `code(value)CRLF` into buf; returns the byte count. A line that
        does not fit whole is left out with the ones after it."""
        n = 0
        for code, fn in self.entries:
            k = _line(code, fn(), buf, n)
            if k == n or k + 2 > len(buf):
                break
            buf[k] = 0x0D
            buf[k + 1] = 0x0A
            n = k + 2
        return n

    def line(self, code, buf):
        """`code(value)` of one entry (an R1 by OBIS code) into buf; 0 if the list has none."""
        for c, fn in self.entries:
            if c == code:
                return _line(c, fn(), buf, 0)
        return 0


def _line(code, value, buf, n):
    """Write `code(value)` at buf[n:]; returns the new end, or n if it does not fit."""
    inside = min(len(value), _LINE_INSIDE_MAX)
    if n + len(code) + inside + 2 > len(buf):
        return n
    buf[n : n + len(code)] = code
    n += len(code)
    buf[n] = 0x28
    n += 1
    for i in range(inside):
        c = value[i]
        # '(' ')' '/' '!' and control or 8-bit characters cannot appear in a value
        if c < 0x20 or c > 0x7E or c == 0x28 or c == 0x29 or c == 0x2F or c == 0x21:
            c = 0x3F
        buf[n] = c
        n += 1
    buf[n] = 0x29
    return n + 1


def make(spec, meter, registers):
    """Readout from a list of "CODE:SOURCE[:ARG]" strings; ValueError names a bad entry."""
    entries = []
    for item in spec:
        parts = item.split(":")
        code = parts[0].encode()
        if not 0 < len(code) <= _CODE_MAX or len(parts) < 2 or parts[1] not in SOURCES:
            raise ValueError("bad readout entry %r" % item)
        arg = parts[2] if len(parts) > 2 else None
        entries.append((code, SOURCES[parts[1]](meter, registers, arg)))
    return Readout(entries)


# --- value sources ------------------------------------------------------------------------


def _reg(registers, obj):
    v = registers.read(obj)
    return b"" if isinstance(v, int) else v


def _ascii_reg(obj):
    def factory(meter, registers, arg):
        return lambda: bytes(_reg(registers, obj)).strip()

    return factory


def _hex_reg(meter, registers, arg):
    obj = int(arg, 16)
    return lambda: hexlify(_reg(registers, obj))


def _uint(registers, obj):
    """A register as an unsigned big-endian number (0 if the data model lacks it)."""
    v = 0
    for b in _reg(registers, obj):
        v = (v << 8) | b
    return v


def _uint_reg(obj):
    def factory(meter, registers, arg):
        return lambda: b"%08d" % _uint(registers, obj)

    return factory


def _time(meter, registers, arg):
    def value():
        t = civiltime.datetime(meter.wallclock.now())
        return b"%02d%02d%02d" % (t[3], t[4], t[5])

    return value


def _date(meter, registers, arg):
    def value():
        t = civiltime.datetime(meter.wallclock.now())
        return b"%02d%02d%02d" % (t[0] % 100, t[1], t[2])

    return value


def _kwh_reg(meter, registers, arg):
    """An energy register (unsigned big-endian Wh, id ARG) as kWh with 3 decimals. A register
    the data model does not have (no metering engine in this build) reads as 0."""
    obj = int(arg, 16)

    def value():
        wh = _uint(registers, obj)
        return b"%06d.%03d*kWh" % (wh // 1000 % 1000000, wh % 1000)

    return value


def _sources():
    from datamodel import registers as dm

    return {
        "serial": _ascii_reg(dm.SERIAL_NUMBER),
        "firmware": _ascii_reg(dm.FIRMWARE_VERSION),
        "status": lambda m, r, a: _hex_reg(m, r, "%04X" % dm.STATUS_WORD),
        "boots": _uint_reg(dm.BOOT_COUNT),
        "reg": _hex_reg,
        "time": _time,
        "date": _date,
        "kwh": _kwh_reg,
    }


SOURCES = _sources()

DEFAULT = (
    "C.1.0:serial",
    "0.2.0:firmware",
    "0.9.1:time",
    "0.9.2:date",
    "1.8.0:kwh:0400",  # A+ total, Wh (the data model's energy registers)
    "2.8.0:kwh:0401",  # A- total
    "F.F:status",
    "C.50.0:boots",
)
