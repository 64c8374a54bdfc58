"""Value types of the data model: codes, byte sizes, integer coding and validation rules.

A register's value is always bytes on the wire (big-endian integers). Rules (row field `rule`):
None = anything of the right size; (lo, hi) = integer range, inclusive; bytes = the allowed
values of a u8 (an enum); a function(value) -> bool for anything else (records, id lists).
"""

from micropython import const

U8 = const(1)
U16 = const(2)
U32 = const(3)
U64 = const(4)
I16 = const(5)
I32 = const(6)
TIME = const(7)  # u32 seconds since 2000-01-01 00:00:00 UTC
ASCII = const(8)  # fixed size, printable ASCII 0x20..0x7E, space padded
BYTES = const(9)  # fixed size, any bytes
OBJLIST = const(10)  # 0..size bytes: a list of object ids (2 bytes each)
KEY = const(11)  # 16-byte AES key (never readable)
LOG = const(12)  # append-only table of records (size = record size)
TAB = const(13)  # parameter table of records written by WRITETAB (size = record size)

NAMES = {
    U8: "u8",
    U16: "u16",
    U32: "u32",
    U64: "u64",
    I16: "i16",
    I32: "i32",
    TIME: "time",
    ASCII: "ascii",
    BYTES: "bytes",
    OBJLIST: "objlist",
    KEY: "key",
    LOG: "log",
    TAB: "table",
}

_INT_SIZE = {U8: 1, U16: 2, U32: 4, U64: 8, I16: 2, I32: 4, TIME: 4}
_SIGNED = (I16, I32)

# TIME values a meter accepts as a clock setting: 2020-01-01 .. 2099-12-31 23:59:59
TIME_MIN = const(631152000)
TIME_MAX = const(3155759999)


def is_int(typ):
    return typ in _INT_SIZE


def is_table(typ):
    return typ == LOG or typ == TAB


def variable(typ):
    return typ == OBJLIST


def decode(typ, b):
    """Integer value of big-endian bytes b for an integer type."""
    return decode_at(typ, b, 0, len(b))


def decode_at(typ, buf, off, n):
    """decode() of buf[off:off + n] read in place (no slice: nothing allocated for a value
    that is a small int)."""
    v = buf[off] if n else 0
    if v & 0x80 and typ in _SIGNED:
        v -= 256  # sign from the first byte: no 2**31 intermediate (a long int on 32 bits)
    for i in range(off + 1, off + n):
        v = (v << 8) | buf[i]
    return v


def encode_into(buf, off, n, v):
    """Write integer v as n big-endian bytes at buf[off]."""
    v &= (1 << (8 * n)) - 1
    for i in range(n - 1, -1, -1):
        buf[off + i] = v & 0xFF
        v >>= 8


def encode(typ, v):
    n = _INT_SIZE[typ]
    b = bytearray(n)
    encode_into(b, 0, n, v)
    return bytes(b)


def time_or_zero(b):
    """A TIME parameter: 0 (none) or a plausible date."""
    v = decode(TIME, b)
    return v == 0 or TIME_MIN <= v <= TIME_MAX


def check(typ, size, rule, b):
    """True if bytes b are a valid value for a register of this type, size and rule."""
    n = len(b)
    if typ == OBJLIST:
        if n > size or n & 1:
            return False
    elif n != size:
        return False
    if typ == ASCII:
        for x in b:
            if not 0x20 <= x <= 0x7E:
                return False
    if rule is None:
        return True
    if isinstance(rule, tuple):
        v = decode(typ, b)
        return rule[0] <= v <= rule[1]
    if isinstance(rule, bytes):
        return b[0] in rule
    return bool(rule(b))
