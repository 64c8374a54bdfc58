"""Data-model objects as display screens: OBIS code, value text and unit (docs/display.md §4).

`show(frame, meter, oid)` writes one object into a Frame, read through meter.model. Numbers are
written digit by digit into the frame's buffer: an integer register on a refresh allocates
nothing (u32 values of 2**30 and more are long ints on a 32-bit port, and F rows such as the
clock are computed by their getters, which allocate).
"""

from datamodel import registers as r
from datamodel.values import ASCII, I16, I32, TIME
from micropython import const

from screens.frame import U_A, U_HZ, U_KVARH, U_KW, U_KWH, U_NONE, U_V

# value formats; F_INT..F_D3 are fixed point, written by put_fixed() with _FIXED[fmt]
F_INT = const(0)  # decimal
F_KWH = const(1)  # Wh (varh) -> k with 1 decimal, 7 integer digits: 0000123.4
F_KW = const(2)  # W -> k with 3 decimals
F_D1 = const(3)  # tenths
F_D2 = const(4)  # hundredths
F_D3 = const(5)  # thousandths
F_HEX = const(6)  # 8 hex digits (the low 32 bits)
F_TEXT = const(7)  # ASCII, spaces stripped
F_TIME = const(8)  # local time hh:mm:ss

# oid: (OBIS code in reduced C.D.E notation, format, unit); metering-facts §3, our choices in
# docs/display.md §4. An object not listed shows its hex id as the code and a generic value.
# fmt: off
ITEMS = {
    0x0001: (b"C.1.0", F_TEXT, U_NONE),   # serial number
    0x0004: (b"C.50.0", F_INT, U_NONE),   # boot count (as the optical readout)
    0x003F: (b"C.5.0", F_HEX, U_NONE),    # status word, low 32 bits
    0x0100: (b"0.9.1", F_TIME, U_NONE),   # local time
    0x0400: (b"1.8.0", F_KWH, U_KWH),
    0x0401: (b"2.8.0", F_KWH, U_KWH),
    0x0402: (b"5.8.0", F_KWH, U_KVARH),
    0x0403: (b"6.8.0", F_KWH, U_KVARH),
    0x0404: (b"7.8.0", F_KWH, U_KVARH),
    0x0405: (b"8.8.0", F_KWH, U_KVARH),
    0x0410: (b"1.8.1", F_KWH, U_KWH),
    0x0411: (b"1.8.2", F_KWH, U_KWH),
    0x0412: (b"1.8.3", F_KWH, U_KWH),
    0x0413: (b"1.8.4", F_KWH, U_KWH),
    0x0700: (b"0.2.1", F_TEXT, U_NONE),   # legal software identification (WELMEC P2)
    0x0701: (b"0.2.8", F_HEX, U_NONE),    # its checksum
    0x0800: (b"C.8.0", F_KW, U_KW),       # contract power
    0x0902: (b"C.14.0", F_INT, U_NONE),   # tariff in force
    0x1600: (b"1.6.0", F_KW, U_KW),
    0x1700: (b"32.7.0", F_D1, U_V),
    0x1701: (b"31.7.0", F_D2, U_A),
    0x1702: (b"1.7.0", F_KW, U_KW),
    0x1703: (b"13.7.0", F_D3, U_NONE),
    0x1704: (b"14.7.0", F_D2, U_HZ),
}
# fmt: on
# (divisor of the register value, decimals, integer digits at least) of each fixed-point format
_FIXED = ((1, 0, 1), (100, 1, 7), (1, 3, 1), (1, 1, 1), (1, 2, 1), (1, 3, 1))
_POW10 = (1, 10, 100, 1000)
_HEXDIGITS = b"0123456789ABCDEF"


def int_of(model, row):
    """An integer row's value; P and M rows are read in place (no bytes object made)."""
    k = row[5]
    if k == r.M:
        buf = model.metering.buf
        off = row[6]
    elif k == r.P:
        buf = model.blocks[row[0] >> 8]
        off = row[6]
    else:
        buf = model.read(row)
        off = 0
    v = 0
    for i in range(row[3]):
        v = (v << 8) | buf[off + i]
    t = row[2]
    if (t == I16 or t == I32) and v >> (8 * row[3] - 1):  # no tuple: nothing allocated
        v -= 1 << (8 * row[3])
    return v


def _digits(buf, p, v, width):
    # v >= 0 at buf[p:], zero padded to width digits; returns the end
    n = 1
    t = v
    while t >= 10:
        t //= 10
        n += 1
    if n < width:
        n = width
    for i in range(p + n - 1, p - 1, -1):
        buf[i] = 0x30 + v % 10
        v //= 10
    return p + n


def put_fixed(frame, v, dec, width):
    """frame.value = v / 10**dec with dec decimals, integer part zero padded to width."""
    buf = frame.value
    p = 0
    if v < 0:
        buf[0] = 0x2D
        p = 1
        v = -v
    s = _POW10[dec]
    p = _digits(buf, p, v // s, width)
    if dec:
        buf[p] = 0x2E
        p = _digits(buf, p + 1, v % s, dec)
    frame.value_n = p


def put_hex(frame, v, n, at=0):
    """frame.value[at:at + n] = v as n hex digits; the value ends there."""
    buf = frame.value
    for i in range(n):
        buf[at + i] = _HEXDIGITS[(v >> (4 * (n - 1 - i))) & 15]
    frame.value_n = at + n


def put_text(frame, b):
    """ASCII bytes without leading and trailing spaces; returns the length."""
    i = 0
    j = len(b)
    while i < j and b[i] == 0x20:
        i += 1
    while j > i and b[j - 1] == 0x20:
        j -= 1
    frame.set_value(b, i, j - i)
    frame.left = True
    return j - i


def local_wall(meter, utc):
    """Local wall time of UTC second utc (seconds since 2000 as if local were UTC): the calendar
    engine's (Seam C) when there is one, else standard time from utc_offset_min (no summer
    time). An int, no field tuple: the clock screen refreshes twice a second."""
    tariffs = getattr(meter, "tariffs", None)
    if tariffs is not None:
        return tariffs.wall(utc)
    return utc + 60 * int_of(meter.model, r.find(0x0101))


def put_time(frame, wall):
    """hh:mm:ss of a local wall time."""
    buf = frame.value
    sod = wall % 86400
    p = _digits(buf, 0, sod // 3600, 2)
    buf[p] = 0x3A
    p = _digits(buf, p + 1, sod // 60 % 60, 2)
    buf[p] = 0x3A
    p = _digits(buf, p + 1, sod % 60, 2)
    frame.value_n = p


def show(frame, meter, oid):
    """Fill frame with the object's screen. Returns False for an id the model lacks."""
    row = r.find(oid)
    if row is None:
        return False
    item = ITEMS.get(oid)
    if item is None:
        put_hex(frame, oid, 4)  # the hex id as the code
        frame.set_code(frame.value, 4)
        fmt = F_TEXT if row[2] == ASCII else (F_HEX if row[3] > 4 else F_INT)
        unit = U_NONE
    else:
        frame.set_code(item[0])
        fmt = item[1]
        unit = item[2]
    frame.unit = unit
    frame.left = False
    if fmt == F_TEXT:
        put_text(frame, meter.model.read(row))
    elif fmt == F_TIME:
        put_time(frame, local_wall(meter, meter.wallclock.now()))
    elif fmt == F_HEX:
        if row[3] > 4:  # wider than 32 bits: its last 4 bytes
            b = meter.model.read(row)
            v = (b[-4] << 24) | (b[-3] << 16) | (b[-2] << 8) | b[-1]
        else:
            v = int_of(meter.model, row)
        put_hex(frame, v, 8)
    elif row[2] == TIME:
        put_time(frame, local_wall(meter, int_of(meter.model, row)))
    else:
        div, dec, width = _FIXED[fmt]
        v = int_of(meter.model, row)
        put_fixed(frame, v // div if div > 1 else v, dec, width)  # a long int: no new one
    return True
