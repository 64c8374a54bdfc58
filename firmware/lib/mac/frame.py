"""Data-link frame codec (docs/datalink.md §1).

    LT | ADDRESS(6) | CTL | RP(n*E) | Reserved | INF-control | INF-LSAP | ATTR + APDU

`Frame.parse(mv)` reads a frame in place from a memoryview and stores only small ints on the
(reused) Frame object, so a successful parse allocates nothing. It never raises: malformed input
returns a non-zero reason code (names in REASONS). Encoders write into a caller's bytearray.
"""

from micropython import const

from mac.address import entry_size

OK = const(0)
R_SHORT = const(1)
R_LT = const(2)
R_CTL = const(3)
R_LSDU = const(4)
R_HOP = const(5)
R_RSV = const(6)
R_DSAP = const(7)
R_ECC = const(8)
REASONS = ("ok", "short", "lt", "ctl", "lsdu", "hop", "rsv", "dsap", "ecc")

MIN_FRAME = const(12)
MAX_LSDU = const(128)
MAX_ROUTE = const(8)
MAX_FRAME = const(187)  # 1 + 6 + 1 + 8*6 + 3 + 128
HDR_FIXED = const(11)  # LT + ADDRESS + CTL + Reserved + INF-control + INF-LSAP

DSAP_APP = const(0)
DSAP_NM = const(2)

_ADDR = const(1)
_CTL = const(7)
_RP = const(8)
_DIR_UP = const(0x80)


class Frame:
    """A parsed view of one frame; fields are valid after parse() returned OK."""

    def __init__(self):
        self.buf = None
        self.n = 0  # frame length
        self.ctl = 0
        self.disc = 0  # CTL high nibble
        self.nrp = 0  # route entries
        self.esize = 6  # route entry size
        self.rsv = 0  # offset of the Reserved byte
        self.up = 0  # 1 = uplink
        self.tag = 0  # exchange tag (Reserved bits 4..6)
        self.hop = 0
        self.poll = 0
        self.dsap = 0
        self.ecc = 0
        self.lsdu = 0  # offset of ATTR
        self.lsdu_len = 0
        self.attr = 0

    def parse(self, b):
        """Parse frame bytes `b` (memoryview/bytes/bytearray). Return OK or a reason code."""
        n = len(b)
        if n < MIN_FRAME:
            return R_SHORT
        if b[0] != n - 1:
            return R_LT
        ctl = b[_CTL]
        cnt = (ctl >> 1) & 7
        if ctl & 1:
            if cnt:
                return R_CTL
            nrp = 0
        else:
            nrp = cnt + 1
        esize = entry_size(b, _ADDR)
        rsv = _RP + nrp * esize
        if rsv + 4 > n:
            return R_SHORT
        lsdu_len = n - rsv - 3
        if lsdu_len > MAX_LSDU:
            return R_LSDU
        r = b[rsv]
        hop = r & 15
        if r & _DIR_UP:
            if hop < 1 or hop > nrp + 1:
                return R_HOP
        elif hop > nrp:
            return R_HOP
        ic = b[rsv + 1]
        if ic & 0xFE:
            return R_RSV
        lsap = b[rsv + 2]
        dsap = lsap >> 4
        if dsap != DSAP_APP and dsap != DSAP_NM:
            return R_DSAP
        ecc = lsap & 15
        if ecc != 0 and ecc != 1 and ecc != 2 and ecc != 5 and ecc != 6:
            return R_ECC
        self.buf = b
        self.n = n
        self.ctl = ctl
        self.disc = ctl >> 4
        self.nrp = nrp
        self.esize = esize
        self.rsv = rsv
        self.up = 1 if r & _DIR_UP else 0
        self.tag = (r >> 4) & 7
        self.hop = hop
        self.poll = ic & 1
        self.dsap = dsap
        self.ecc = ecc
        self.lsdu = rsv + 3
        self.lsdu_len = lsdu_len
        self.attr = b[rsv + 3]
        return OK

    def entry_off(self, i):
        """Offset of route entry i (0-based)."""
        return _RP + i * self.esize

    def route_mv(self):
        return memoryview(self.buf)[_RP : self.rsv]

    def addr_mv(self):
        return memoryview(self.buf)[_ADDR:_CTL]

    def lsdu_mv(self):
        return memoryview(self.buf)[self.lsdu : self.n]


def reserved(up, tag, hop):
    """The Reserved byte."""
    return (_DIR_UP if up else 0) | ((tag & 7) << 4) | (hop & 15)


def ctl_byte(disc, nrp):
    """CTL for a discipline nibble and a route of nrp entries (0 = NOR)."""
    if nrp < 0 or nrp > MAX_ROUTE:
        raise ValueError("route entries 0..8")
    if nrp == 0:
        return ((disc & 15) << 4) | 1
    return ((disc & 15) << 4) | ((nrp - 1) << 1)


def encode(out, addr, disc, route, up, tag, hop, poll, dsap, ecc, lsdu, esize=None):
    """Write a frame into bytearray `out`; return its length.

    route: bytes of concatenated entries (len a multiple of the entry size, which follows from
    addr unless esize is given). lsdu: ATTR + APDU. Raises ValueError on impossible arguments.
    """
    if len(addr) != 6:
        raise ValueError("address must be 6 bytes")
    if esize is None:
        esize = entry_size(addr, 0)
    rl = len(route)
    if rl % esize:
        raise ValueError("route length")
    nrp = rl // esize
    ln = len(lsdu)
    if ln < 1 or ln > MAX_LSDU:
        raise ValueError("LSDU 1..128 bytes")
    if dsap < 0 or dsap > 15 or ecc < 0 or ecc > 15:
        raise ValueError("dsap/ecc")
    n = HDR_FIXED + rl + ln
    if len(out) < n:
        raise ValueError("buffer too small")
    out[0] = n - 1
    out[_ADDR:_CTL] = addr
    out[_CTL] = ctl_byte(disc, nrp)
    p = _RP
    if rl:
        out[p : p + rl] = route
        p += rl
    out[p] = reserved(up, tag, hop)
    out[p + 1] = 1 if poll else 0
    out[p + 2] = (dsap << 4) | ecc
    out[p + 3 : p + 3 + ln] = lsdu
    return n


def copy_with_hop(out, f, up, hop):
    """Copy parsed frame f into `out` with a new direction/hop (tag kept); return its length."""
    n = f.n
    b = f.buf
    for i in range(n):
        out[i] = b[i]
    out[f.rsv] = reserved(up, f.tag, hop)
    return n


def encode_answer(out, req, own_addr, lsdu, lsdu_len, ecc):
    """Uplink answer to parsed request `req`: same CTL, route and tag, hop n+1, poll 0.

    own_addr: the responder's ACA (or SCA when the request was in SCA mode). Returns length.
    """
    b = req.buf
    rl = req.rsv - _RP
    n = HDR_FIXED + rl + lsdu_len
    out[0] = n - 1
    for i in range(6):
        out[_ADDR + i] = own_addr[i]
    out[_CTL] = req.ctl
    for i in range(rl):
        out[_RP + i] = b[_RP + i]
    p = _RP + rl
    out[p] = reserved(1, req.tag, req.nrp + 1)
    out[p + 1] = 0
    out[p + 2] = (req.dsap << 4) | (ecc & 15)
    p += 3
    for i in range(lsdu_len):
        out[p + i] = lsdu[i]
    return n
