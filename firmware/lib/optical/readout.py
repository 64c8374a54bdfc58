"""The mode C data readout: a configurable list of OBIS-coded lines built from live values.

A readout list is a list of "CODE:SOURCE" strings (config key `optical_readout`), e.g.
"C.1.0:serial" -> `C.1.0(MM0000000001)`. SOURCE names a value source in `SOURCES`; a source
factory takes (meter, registers, arg) and returns a callable giving the value bytes (unit
included, parentheses excluded). Other layers plug in their own with `SOURCES[name] = factory`.
docs/optical.md lists the sources and formats.
"""

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


def rtc_seconds(rtc):
    """Seconds since 2000-01-01 UTC from the meter's RTC (shared contract: rtc.seconds())."""
    return rtc.seconds() if hasattr(rtc, "seconds") else rtc.now()


def civil(days):
    """(year, month, day) of the day `days` after 2000-01-01 (proleptic Gregorian)."""
    z = days + 10957 + 719468  # days since 0000-03-01
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


def _time(meter, registers, arg):
    def value():
        s = rtc_seconds(meter.hw.rtc) % 86400
        return b"%02d%02d%02d" % (s // 3600, s // 60 % 60, s % 60)

    return value


def _date(meter, registers, arg):
    def value():
        y, m, d = civil(rtc_seconds(meter.hw.rtc) // 86400)
        return b"%02d%02d%02d" % (y % 100, m, d)

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
