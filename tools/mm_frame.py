"""Independent CPython codec for the Meters and More data-link frame (docs/datalink.md v1).

Written from the document, not from firmware/lib/mac, so that the two implementations check each
other (host_tests/py/test_sim_codec.py runs both on the same frames). Also holds the master-side
timing formulas (§4) and the PHY airtime, which is read from firmware/lib/phy/profile.py itself so
that the medium, the concentrator and the firmware agree on it to the microsecond.

    LT | ADDRESS(6) | CTL | RP(n*E) | Reserved | INF-control | INF-LSAP | ATTR + APDU
"""

from __future__ import annotations

import importlib.util
import math
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE_PATH = ROOT / "firmware" / "lib" / "phy" / "profile.py"

BROADCAST = bytes.fromhex("ffffffffff03")
DSAP_APP = 0
DSAP_NM = 2
VALID_ECC = (0, 1, 2, 5, 6)

# ATTR codes (facts §3/§4)
READ_REQ, READ_RESP = 2, 3
ADDRESS_REQ, ADDRESS_RESP = 90, 91
TCT_SET_REQ = 92
REQADDR_REQ, REQADDR_RESP = 94, 95
NACK_RESP = 247
NACK_A = 255

# Discipline nibbles used by the concentrator
DISC_S = 0
DISC_RA1, DISC_RA2, DISC_RA3, DISC_RA7 = 2, 3, 4, 8
DISC_RB3 = 11  # request/respond via the A-Node to its B-Node, answers <= 50 bytes
DISC_RC1, DISC_RC2, DISC_RC3, DISC_RC4 = 12, 13, 14, 15

# Timing defaults (docs/datalink.md §4), ms
TEL_MS = 20
TC_MS = 250
ADD_MS = 100
REQADDR_SLOTS = 64
RC_ANSWER_MAX = 90
LSDU_MAX = 128


class FrameError(ValueError):
    """A malformed frame; .reason is one of the names of docs/datalink.md §8."""

    def __init__(self, reason, msg=""):
        super().__init__(f"{reason}: {msg}" if msg else reason)
        self.reason = reason


def entry_size_for(addr: bytes) -> int:
    """2-byte route entries in SCA mode (ADDRESS[5] == 0x03 and not broadcast), else 6."""
    return 2 if addr[5] == 0x03 and addr != BROADCAST else 6


@dataclass
class Frame:
    addr: bytes
    lsdu: bytes  # ATTR + APDU
    disc: int = 0
    route: list = field(default_factory=list)  # repeater entries, master -> destination
    up: bool = False
    tag: int = 0
    hop: int = 0
    poll: bool = False
    dsap: int = 0
    ecc: int = 0

    @property
    def attr(self) -> int:
        return self.lsdu[0]

    @property
    def apdu(self) -> bytes:
        return self.lsdu[1:]

    @property
    def esize(self) -> int:
        return entry_size_for(self.addr)

    def encode(self) -> bytes:
        return encode(self)


def ctl_of(disc: int, nroute: int) -> int:
    if not 0 <= nroute <= 8:
        raise ValueError("route entries 0..8")
    low = 0x01 if nroute == 0 else (nroute - 1) << 1
    return (disc & 0x0F) << 4 | low


def encode(f: Frame) -> bytes:
    addr = bytes(f.addr)
    if len(addr) != 6:
        raise ValueError("ADDRESS is 6 bytes")
    e = entry_size_for(addr)
    for r in f.route:
        if len(r) != e:
            raise ValueError(f"route entries must be {e} bytes for this ADDRESS")
    if not 1 <= len(f.lsdu) <= LSDU_MAX:
        raise ValueError("LSDU 1..128 bytes")
    if not (0 <= f.dsap <= 15 and 0 <= f.ecc <= 15 and 0 <= f.hop <= 15 and 0 <= f.tag <= 7):
        raise ValueError("field out of range")
    rsv = (0x80 if f.up else 0) | (f.tag << 4) | f.hop
    body = (
        addr
        + bytes([ctl_of(f.disc, len(f.route))])
        + b"".join(bytes(r) for r in f.route)
        + bytes([rsv, 1 if f.poll else 0, (f.dsap << 4) | f.ecc])
        + bytes(f.lsdu)
    )
    return bytes([len(body)]) + body


def decode(data: bytes) -> Frame:
    """Parse one frame; raise FrameError with the §8 reason name if it is malformed."""
    data = bytes(data)
    if len(data) < 12:
        raise FrameError("short", f"{len(data)} bytes")
    if data[0] != len(data) - 1:
        raise FrameError("lt", f"LT {data[0]} for {len(data)} bytes")
    addr = data[1:7]
    ctl = data[7]
    nor = ctl & 1
    count = (ctl >> 1) & 7
    if nor and count:
        raise FrameError("ctl", "NOR with a route count")
    n = 0 if nor else count + 1
    e = entry_size_for(addr)
    pos = 8 + n * e
    if pos + 4 > len(data):
        raise FrameError("short", "shorter than its route")
    route = [data[8 + i * e : 8 + (i + 1) * e] for i in range(n)]
    rsv, ic, lsap = data[pos], data[pos + 1], data[pos + 2]
    lsdu = data[pos + 3 :]
    if len(lsdu) > LSDU_MAX:
        raise FrameError("lsdu", f"{len(lsdu)} bytes")
    up = bool(rsv & 0x80)
    hop = rsv & 0x0F
    if (up and not 1 <= hop <= n + 1) or (not up and hop > n):
        raise FrameError("hop", f"hop {hop} with {n} repeaters")
    if ic & 0xFE:
        raise FrameError("rsv", f"INF-control {ic:#x}")
    dsap, ecc = lsap >> 4, lsap & 0x0F
    if dsap not in (DSAP_APP, DSAP_NM):
        raise FrameError("dsap", str(dsap))
    if ecc not in VALID_ECC:
        raise FrameError("ecc", str(ecc))
    return Frame(
        addr=addr,
        lsdu=lsdu,
        disc=ctl >> 4,
        route=route,
        up=up,
        tag=(rsv >> 4) & 7,
        hop=hop,
        poll=bool(ic & 1),
        dsap=dsap,
        ecc=ecc,
    )


# --- disciplines -------------------------------------------------------------------------------

_RA_MAX = [20, 40, 60, 80, 100, 120, 140]
_RB_MAX = [20, 30, 50]


def disc_class(disc: int) -> str:
    disc &= 0x0F
    if disc <= 1:
        return "S"
    if disc <= 8:
        return "RA"
    if disc <= 11:
        return "RB"
    return "RC"


def rc_slots(disc: int) -> int:
    return {12: 8, 13: 16, 14: 32, 15: 64}.get(disc & 0x0F, 0)


def answer_limit(disc: int) -> int:
    """Answer LSDU bytes a slave will send for this discipline (nominal capped at 128)."""
    c = disc_class(disc)
    if c == "S":
        return 0
    if c == "RA":
        nominal = _RA_MAX[disc - 2]
    elif c == "RB":
        nominal = _RB_MAX[disc - 9]
    else:
        nominal = RC_ANSWER_MAX
    return min(nominal, LSDU_MAX)


def frame_len(nroute: int, esize: int, lsdu_len: int) -> int:
    return 1 + 6 + 1 + nroute * esize + 3 + lsdu_len


# --- PHY airtime, straight from the firmware's profile ---------------------------------------


def _load_profile():
    """Import firmware/lib/phy/profile.py under CPython. Its only MicroPython-specific import is
    `from micropython import const`; we provide a stand-in for the duration of the import."""
    if not PROFILE_PATH.exists():
        return None
    had = sys.modules.get("micropython")
    if had is None:
        shim = types.ModuleType("micropython")
        shim.const = lambda x: x
        sys.modules["micropython"] = shim
    try:
        spec = importlib.util.spec_from_file_location("mm_phy_profile", PROFILE_PATH)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        if had is None:
            del sys.modules["micropython"]


PROFILE = _load_profile()


def airtime_us(nbytes: int) -> int:
    """On-air time of a PHY payload of nbytes (the data-link frame), as the firmware computes
    it: phy.profile.airtime_us, or the documented fallback when the profile is absent."""
    if PROFILE is not None:
        return PROFILE.airtime_us(nbytes)
    return 20000 + math.ceil(nbytes * 5000 / 3)


def airtime_ms(nbytes: int) -> int:
    return -(-airtime_us(nbytes) // 1000)


# --- master timing (docs/datalink.md §4) -------------------------------------------------------


def response_timeout_ms(
    disc, nroute, esize, req_len, tel_ms=TEL_MS, tc_ms=TC_MS, add_ms=ADD_MS, links=None
):
    links = nroute + 1 if links is None else links
    c = disc_class(disc)
    if c == "S":
        return 0
    a_q = airtime_ms(req_len)
    a_r = airtime_ms(frame_len(nroute, esize, answer_limit(disc)))
    if c == "RC":
        return (
            links * (a_q + tel_ms) + rc_slots(disc) * tc_ms + (links - 1) * (a_r + tel_ms) + add_ms
        )
    return links * (a_q + tel_ms + a_r + tel_ms) + add_ms


def reqaddr_round_ms(tel_ms=TEL_MS, tc_ms=TC_MS, add_ms=ADD_MS):
    return (
        tel_ms
        + REQADDR_SLOTS * tc_ms
        + airtime_ms(frame_len(0, 6, RC_ANSWER_MAX))
        + tel_ms
        + add_ms
    )


# --- network-management payloads ---------------------------------------------------------------


def address_req(phase=2, tcr=0x55, add=0, shift=0) -> bytes:
    return bytes([ADDRESS_REQ, phase, tcr, add, shift])


def reqaddr_req(phase=2, tcr=0x55, add=0, shift=0) -> bytes:
    return bytes([REQADDR_REQ, phase, tcr, add, shift])


def tct_set(value) -> bytes:
    return bytes([TCT_SET_REQ, value])


@dataclass
class AddrEntry:
    """The 12 bytes of an ADDRESS.RESP after ATTR (also one REQADDR.RESP entry)."""

    aca: bytes
    sig: int  # dBµV, 255 unknown
    snr_q: int  # quarter dB, 255 unknown
    tx: int

    @property
    def snr_db(self):
        return None if self.snr_q == 255 else self.snr_q / 4.0

    @property
    def sig_dbuv(self):
        return None if self.sig == 255 else self.sig


def parse_addr_entry(b: bytes) -> AddrEntry:
    if len(b) != 12:
        raise ValueError("address entry is 12 bytes")
    return AddrEntry(aca=bytes(b[:6]), sig=b[6], snr_q=b[7], tx=b[8])


def parse_address_resp(lsdu: bytes) -> AddrEntry:
    if len(lsdu) != 13 or lsdu[0] != ADDRESS_RESP:
        raise ValueError("not an ADDRESS.RESP")
    return parse_addr_entry(lsdu[1:])


def parse_reqaddr_resp(lsdu: bytes) -> list:
    if len(lsdu) < 2 or lsdu[0] != REQADDR_RESP:
        raise ValueError("not a REQADDR.RESP")
    n = lsdu[1]
    if len(lsdu) != 2 + 12 * n:
        raise ValueError("REQADDR.RESP length")
    return [parse_addr_entry(lsdu[2 + 12 * i : 14 + 12 * i]) for i in range(n)]
