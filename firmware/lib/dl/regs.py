"""Getters and setters of the download registers, group 0x10 (docs/download.md §6), on the
pattern of datamodel.live: fn(meter) -> exactly the row's bytes; setter fn(meter, bytes) -> 0 or
a NACK code. Before the download feature is attached they read as idle."""

import struct


def _t(m):
    d = getattr(m, "dl", None)
    return None if d is None else d.transfer


def state(m):
    t = _t(m)
    return bytes((0 if t is None else t.state,))


def block_size(m):
    t = _t(m)
    return bytes((0 if t is None else t.bs,))


def image_id(m):
    t = _t(m)
    return bytes(4) if t is None else bytes(t.image_id)


def activation(m):
    t = _t(m)
    return struct.pack(">I", 0 if t is None else t.act_time)


def progress(m):
    t = _t(m)
    if t is None:
        return bytes(6)
    return struct.pack(">HHBB", min(t.received, 0xFFFF), t.nblocks(), t.code, t.slot)


def running(m):
    d = getattr(m, "dl", None)
    if d is None:
        return bytes(7)
    sel = d.slots.selector() if d.enabled else (0, 0, 0, 0, 0)
    return struct.pack(">BBBI", d.running, sel[2], sel[3], d.version)


def key_write(m, b):
    d = getattr(m, "dl", None)
    return 4 if d is None else d.set_key(b)
