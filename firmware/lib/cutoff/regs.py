"""Getters of the cut-off's data-model rows (groups 0x0D, 0x0E; docs/datamodel.md): each takes
the meter and returns the row's bytes. A meter without a relay reads "unknown"/zero."""

import struct

from datamodel.live import lazy


def _c(m):
    return getattr(m, "cutoff", None)


def relay_state(m):
    """0 open, 1 closed, 2 armed, 255 unknown (no relay, or a contact that tells nothing)."""
    c = _c(m)
    if c is None:
        return b"\xff"
    if c.state() == "armed":
        return b"\x02"
    s = c.relay.state()
    return b"\xff" if s is None else (b"\x01" if s else b"\x00")


def relay_armed(m):
    c = _c(m)
    return b"\x01" if c is not None and c.state() == "armed" else b"\x00"


def control_state(m):
    from cutoff.control import CONTROL_STATE

    c = _c(m)
    return bytes((CONTROL_STATE[c.code()] if c is not None else 1,))


def cutoff_state(m):
    c = _c(m)
    return bytes((c.code() if c is not None else 0,))


def limit_trips(m):
    c = _c(m)
    return struct.pack(">H", c.limit_trips if c is not None else 0)


def overload_s(m):
    c = _c(m)
    return struct.pack(">H", min(c.overload_s, 0xFFFF) if c is not None else 0)


def limit_w(m):
    c = _c(m)
    return struct.pack(">I", c.limit_w() if c is not None else 0)


def status_bits(m):
    """The cut-off's status-word flags (bits 6 and 12..15, datamodel/registers.py SW_*);
    allocates nothing (the display reads the status word every second)."""
    r = lazy("datamodel.registers")
    k = lazy("cutoff.control")

    c = _c(m)
    if c is None:
        return 0
    st = c.code()
    f = 0
    if st == k.ARMED:
        f |= r.SW_RELAY_ARMED
    if st == k.OPEN_REMOTE or (st == k.ARMED and c.cause == k.OPEN_REMOTE):
        f |= r.SW_CUT_REMOTE
    if st == k.OPEN_LIMIT or (st == k.ARMED and c.cause == k.OPEN_LIMIT):
        f |= r.SW_CUT_LIMIT
    if c.overload_s:
        f |= r.SW_OVERLOAD
    if c.mismatch:
        f |= r.SW_CONTACT_MISMATCH
    return f


def extended_bits(m):
    """The cut-off's extended-status flags (bits 10..11, XS_*)."""
    from datamodel import registers as r

    from cutoff import control as k

    c = _c(m)
    if c is None:
        return 0
    md = m.model
    f = r.XS_LIMITER_ON if md.get_int(r.CUTOFF_MODE) else 0
    if c.code() == k.OPEN_LIMIT and md.get_int(r.LIMIT_RECONNECT) == k.AUTOMATIC:
        f |= r.XS_AUTO_RECONNECT
    return f
