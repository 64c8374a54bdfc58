"""Disciplines, answer limits and timing (docs/datalink.md §4). Pure functions of their
arguments: nothing here reads a clock, so tests run in simulated time.

Discipline nibble (CTL bits 4..7): 0-1 S, 2-8 RA1-RA7, 9-11 RB1-RB3, 12-15 RC1-RC4.
Time on air is the PHY backend's: the formulas take it as `air(nbytes) -> ms` (phy.airtime_ms).
"""

from micropython import const

S = const(0)
RA = const(1)
RB = const(2)
RC = const(3)
CLASS_NAMES = ("S", "RA", "RB", "RC")

TEL_MS = const(20)  # elaboration time (HI MIB 12 default)
TC_MS = const(250)  # RC time slot
ADD_MS = const(100)  # our additional delay per exchange (margin)
DUP_MS = const(200)  # duplicate-suppression window (ours)
RETRIES_DEFAULT = const(2)
RETRIES_MAX = const(10)
RC_ANSWER_MAX = const(90)
REQADDR_SLOTS = const(64)
REQADDR_DISC = const(15)  # RC4

# Maximum answer LSDU per nibble (0 = no answer). RA7's nominal 140 exceeds the LSDU limit.
_MAXRESP = b"\x00\x00\x14\x28\x3c\x50\x64\x78\x8c\x14\x1e\x32\x5a\x5a\x5a\x5a"
_LSDU_MAX = const(128)
_HDR_FIXED = const(11)


def disc_class(disc):
    """S, RA, RB or RC for a discipline nibble."""
    disc &= 15
    if disc < 2:
        return S
    if disc < 9:
        return RA
    if disc < 12:
        return RB
    return RC


def disc_name(disc):
    c = disc_class(disc)
    if c == S:
        return "S"
    if c == RA:
        return "RA%d" % (disc - 1)
    if c == RB:
        return "RB%d" % (disc - 8)
    return "RC%d" % (disc - 11)


def max_response(disc):
    """Nominal maximum answer LSDU length in bytes (0 for S)."""
    return _MAXRESP[disc & 15]


def answer_limit(disc):
    """Answer LSDU length the MAC will actually send (nominal, capped at the LSDU limit)."""
    m = _MAXRESP[disc & 15]
    return m if m < _LSDU_MAX else _LSDU_MAX


def rc_slots(disc):
    """Number of RC time slots (8, 16, 32, 64) or 0 for other classes."""
    disc &= 15
    return (8 << (disc - 12)) if disc >= 12 else 0


def _bits(slots):
    b = 0
    while (1 << b) < slots:
        b += 1
    return b


def pick_slot(disc, rand):
    """Uniform slot index 0..slots-1 for an RC discipline, 0 otherwise.

    rand: callable(nbits) -> int, like random.getrandbits.
    """
    slots = rc_slots(disc)
    if not slots:
        return 0
    return rand(_bits(slots)) & (slots - 1)


def slot_start_ms(t0_ms, slot, tel_ms=TEL_MS, tc_ms=TC_MS):
    """Start of RC slot `slot` for a request received (ended) at t0_ms."""
    return t0_ms + tel_ms + slot * tc_ms


def frame_len(nrp, esize, lsdu_len):
    """Length of a frame with nrp route entries of esize bytes and an LSDU of lsdu_len."""
    return _HDR_FIXED + nrp * esize + lsdu_len


def response_timeout_ms(
    air, disc, nrp, esize, req_len, tel_ms=TEL_MS, tc_ms=TC_MS, add_ms=ADD_MS, links=None
):
    """How long a master waits for the answer to a request (docs/datalink.md §4).

    links defaults to nrp + 1 (whole route); a repeater passes the links downstream of itself.
    """
    if links is None:
        links = nrp + 1
    c = disc_class(disc)
    if c == S:
        return 0
    a_req = air(req_len)
    a_resp = air(frame_len(nrp, esize, answer_limit(disc)))
    if c == RC:
        return (
            links * (a_req + tel_ms)
            + rc_slots(disc) * tc_ms
            + (links - 1) * (a_resp + tel_ms)
            + add_ms
        )
    return links * (a_req + tel_ms + a_resp + tel_ms) + add_ms


def reqaddr_round_ms(air, tel_ms=TEL_MS, tc_ms=TC_MS, add_ms=ADD_MS):
    """A meter's local ADDRESS.REQ round after its broadcast has ended (REQADDR.REQ)."""
    return tel_ms + REQADDR_SLOTS * tc_ms + air(frame_len(0, 6, RC_ANSWER_MAX)) + tel_ms + add_ms


def check_retries(n):
    """Validate a master retry count (0..10); return it."""
    if n < 0 or n > RETRIES_MAX:
        raise ValueError("retries 0..10")
    return n
