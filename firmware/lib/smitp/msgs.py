"""Codecs of the Original-SMITP slave messages (docs/smitp.md §5): one parser per request and
the answer encoders. Parsers work in place on the APDU (a memoryview; nothing is copied) and
return the fields, or None when the APDU is malformed (length): NACK 3.
Encoders write into a caller's buffer at `off` and return the new offset.
"""

from micropython import const

# ATTR codes (facts §3); the authenticated variant of a request is +100
READ = const(2)
READ_RESP = const(3)
WRITE = const(4)
READTAB_SEL = const(6)
READTAB_SEL_RESP = const(7)
READTAB = const(8)
READTAB_RESP = const(9)
WRITETAB = const(10)
SETTAB = const(14)
RESETTAB = const(16)
COMMAND = const(18)
BUFF_SELECT = const(22)
BUFF_SELECT_RESP = const(23)
GETTAB = const(30)
GETTAB_RESP = const(31)
SETIC = const(40)
WRITETABIC = const(42)
REPROG_LOCAL = const(100)  # software download (docs/download.md §5)
REPROG_BROADCAST = const(101)
CHALLENGE_REQ = const(112)
NACK_B = const(249)
ACK_B = const(251)
ACK_A = const(253)
NACK_A = const(255)

READ_TYPES = (READ, READTAB_SEL, READTAB, BUFF_SELECT, GETTAB)

SEL_INDEX = const(0)
SEL_TIME = const(1)
LAST = const(1)  # WRITETAB FLAGS bit 0
MAX_CUSTOM = const(16)


def auth_attr(a):
    """Authenticated ATTR of a plain answer ATTR: 3 -> 103, ACK 253 -> 243, NACK 255 -> 245."""
    return a + 100 if a < 100 else a - 10


def u16(b, o):
    return (b[o] << 8) | b[o + 1]


def u32(b, o):
    return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]


def put_u16(out, o, v):
    out[o] = v >> 8 & 0xFF
    out[o + 1] = v & 0xFF
    return o + 2


def put_u32(out, o, v):
    out[o] = v >> 24 & 0xFF
    out[o + 1] = v >> 16 & 0xFF
    out[o + 2] = v >> 8 & 0xFF
    out[o + 3] = v & 0xFF
    return o + 4


# --- requests ------------------------------------------------------------------------------------


def parse_read(a):
    """READ.REQ: OBJ(2) -> oid."""
    return u16(a, 0) if len(a) == 2 else None


def parse_readtab(a):
    """READTAB.REQ: OBJ(2) RNO(4) -> (oid, rno)."""
    return (u16(a, 0), u32(a, 2)) if len(a) == 6 else None


def parse_select(a):
    """READTAB-sel.REQ / BUFF_SELECT.REQ: OBJ(2) SEL(1) FROM(4) TO(4) -> (oid, sel, from, to)."""
    if len(a) != 11:
        return None
    return (u16(a, 0), a[2], u32(a, 3), u32(a, 7))


def parse_gettab(a):
    """GETTAB.REQ: TAB(1) -> tab."""
    return a[0] if len(a) == 1 else None


def parse_settab(a):
    """SETTAB.REQ: TAB(1) OBJ(2) x K -> (tab, ids memoryview)."""
    n = len(a)
    if n < 1 or (n - 1) & 1 or (n - 1) // 2 > MAX_CUSTOM:
        return None
    return (a[0], a[1:])


def parse_write(a):
    """WRITE.REQ: OBJ(2) VALUE -> (oid, value memoryview)."""
    return (u16(a, 0), a[2:]) if len(a) >= 2 else None


def parse_writetab(a):
    """WRITETAB.REQ: OBJ(2) START(1) FLAGS(1) RECORDS -> (oid, start, flags, records)."""
    if len(a) < 4:
        return None
    return (u16(a, 0), a[2], a[3], a[4:])


def parse_resettab(a):
    """RESETTAB.REQ: OBJ(2) -> oid (gg FF = group gg, FF FF = all)."""
    return u16(a, 0) if len(a) == 2 else None


def parse_setic(a):
    """SETIC.REQ: TIME(4) OBJ(2) VALUE -> (time, oid, value)."""
    if len(a) < 6:
        return None
    return (u32(a, 0), u16(a, 4), a[6:])


def parse_writetabic(a):
    """WRITETABIC.REQ: TIME(4) + a WRITETAB APDU -> (time, (oid, start, flags, records))."""
    if len(a) < 8:
        return None
    return (u32(a, 0), parse_writetab(a[4:]))


def parse_command(a):
    """COMMAND.REQ: CODE(1) ARGS -> (code, args)."""
    return (a[0], a[1:]) if len(a) >= 1 else None


# --- answers -------------------------------------------------------------------------------------


def put_block(out, o, oid, first, end, table, n):
    """READTAB/READTAB-sel answer: OBJ FIRST END N and N records from `first`."""
    o = put_u16(out, o, oid)
    o = put_u32(out, o, first)
    o = put_u32(out, o, end)
    out[o] = n
    o += 1
    rs = table.recsize
    for rno in range(first, first + n):
        out[o : o + rs] = table.record(rno)
        o += rs
    return o


def put_located(out, o, oid, first, end, recsize):
    """BUFF_SELECT answer: OBJ FIRST END RECSIZE."""
    o = put_u16(out, o, oid)
    o = put_u32(out, o, first)
    o = put_u32(out, o, end)
    out[o] = recsize
    return o + 1


BLOCK_HDR = const(11)
