"""Getters (and the few setters) of the data model's `F` rows: values computed from live objects.

A getter takes the meter and returns exactly the row's size in bytes; a setter takes the meter
and the validated bytes and returns 0 or a NACK code. The meter supplies: cfg, aca, boots, hw,
wallclock, model, mac, sec, bnode, al, store_recovered (see firmware/app.py).
"""

import struct
import sys

from micropython import const

FIRMWARE = b"MMPY0002"  # 8 bytes: project tag + release number

_NOT_SUPPORTED = const(4)


_LAZY = {}


def lazy(name):
    """Module `name`, imported at first use and kept: for modules that import this one
    (datamodel.registers). An import statement inside a function allocates at every call."""
    m = _LAZY.get(name)
    if m is None:
        __import__(name)
        m = _LAZY[name] = sys.modules[name]
    return m


def _pad(b, n):
    return (bytes(b) + b" " * n)[:n]


def serial(m):
    return _pad(m.cfg["serial"].encode(), 16)


def firmware(m):
    d = getattr(m, "dl", None)  # the running image's version (docs/download.md §3)
    return FIRMWARE if d is None else ("MMPY%04d" % (d.version % 10000)).encode()


def aca(m):
    return bytes(m.aca)


def boots(m):
    return struct.pack(">I", m.boots)


def manufacturer(m):
    return _pad(m.cfg.get("manufacturer", "").encode(), 3)


def hardware(m):
    return _pad(m.hw.name.encode(), 8)


def phases(m):
    return bytes((m.cfg.get("phase", 1),))


def status_word(m):
    """8 bytes, big-endian u64 of flags taken from the live meter."""
    return struct.pack(">Q", status_flags(m))


def status_flags(m):
    """The status word as an int, allocating nothing (the display reads it every second)."""
    r = lazy("datamodel.registers")

    flags = 0
    relay = m.hw.relay
    if relay is not None:
        if relay.state() is False:
            flags |= r.SW_RELAY_OPEN
        if relay.fault():
            flags |= r.SW_RELAY_FAULT
    wc = m.wallclock
    if not wc.valid():
        flags |= r.SW_CLOCK_NOT_SET
    if wc.synced:
        flags |= r.SW_CLOCK_SYNCED
    if m.store_recovered:
        flags |= r.SW_STORE_RECOVERED
    if m.boots == 1:
        flags |= r.SW_FIRST_BOOT
    if m.model.get_int(r.RELAY_ARMED):
        flags |= r.SW_RELAY_ARMED
    energy = getattr(m, "energy", None)
    if energy is not None:
        flags |= energy.sw_bits()
    pf = getattr(m, "profiles", None)
    if pf is not None and pf.fault():
        flags |= r.SW_PROFILE_FAULT
    return flags | lazy("cutoff.regs").status_bits(m)


def extended_status(m):
    from datamodel import registers as r

    flags = 0
    if m.bnode is not None and m.bnode.present:
        flags |= r.XS_BNODE_PRESENT
    md = m.model
    if md.pending is not None:
        flags |= r.XS_PENDING_ACTIVATION
    if md.staged_oid is not None:
        flags |= r.XS_TABLE_STAGED
    ev = md.tables[r.EVENT_LOG]
    if ev.end > ev.capacity:
        flags |= r.XS_EVENTS_LOST
    if md.read_protected():
        flags |= r.XS_READ_PROTECTED
    faults = getattr(m, "faults", None)
    if faults is not None and faults.count:
        flags |= r.XS_FAULTS
    energy = getattr(m, "energy", None)
    if energy is not None:
        flags |= energy.xs_bits()
    from cutoff.regs import extended_bits

    flags |= extended_bits(m)
    return struct.pack(">Q", flags)


def _ascii_field(out, off, text, n):
    b = text.encode()[:n]
    out[off : off + len(b)] = b
    for i in range(off + len(b), off + n):
        out[i] = 0x20


def fault_log(m):
    """The supervisor's last faults (lib/faults.py), as fault_log documents them: 74 bytes."""
    out = bytearray(74)
    faults = getattr(m, "faults", None)
    if faults is None:
        return bytes(out)
    n = faults.count
    out[0] = (n >> 8) & 0xFF if n < 0xFFFF else 0xFF
    out[1] = n & 0xFF if n < 0xFFFF else 0xFF
    off = 2
    for name, place, t_ms in faults.recent()[-3:]:
        out[off : off + 4] = struct.pack(">I", t_ms // 1000)
        _ascii_field(out, off + 4, name, 10)
        _ascii_field(out, off + 14, place, 10)
        off += 24
    return bytes(out)


def clock(m):
    return struct.pack(">I", m.wallclock.now())


def clock_write(m, b):
    from smitp import commands

    return commands.clock_set(m, struct.unpack(">I", b)[0])


def sca(m):
    s = getattr(m.mac, "sca", None)
    return bytes(s) if s is not None else b"\xff" * 6


def _set_key(m, which, b):
    sec = getattr(m, "sec", None)
    if sec is None:
        return _NOT_SUPPORTED
    sec.set_key(which, bytes(b))
    return 0


def key_write(m, b):
    return _set_key(m, "write", b)


def key_read(m, b):
    return _set_key(m, "read", b)


def lmon(m):
    sec = getattr(m, "sec", None)
    return struct.pack(">Q", sec.lmon if sec is not None else 0)


def tct(m):
    return bytes((m.mac.tct,))


def neighbours(m):
    from mac import heard

    return bytes(m.mac.heard.into(bytearray(heard.ENTRIES * heard.ENTRY)))


def legal_id(m):
    from datamodel import legal

    return legal.SW_ID


def legal_checksum(m):
    return struct.pack(">I", m.model.legal_crc)


def lmon_window(m):
    from smitp import security

    return struct.pack(">H", security.LMON_WINDOW)


def pending(m):
    p = m.model.pending
    if p is None:
        return b"\xff" * 6
    return struct.pack(">HI", p[0], p[1])


def bnode_present(m):
    return b"\x01" if m.bnode is not None and m.bnode.present else b"\x00"


def bnode_last(m):
    return struct.pack(">I", 0 if m.bnode is None else m.bnode.last_update)


def display_special(m):
    """0x0F06: the concentrator's special message on show (screens.manager)."""
    mgr = getattr(m, "display_mgr", None)
    return mgr.special_state() if mgr is not None else bytes(18)
