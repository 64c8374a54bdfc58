"""Repetition support (docs/datalink.md §5): duplicate ring and repeater busy timer.

The forwarding itself is done by mac.link.Mac (it owns the transmit slot); this module keeps the
state that decides whether to forward.
"""

from crc import crc16_ccitt
from micropython import const

from mac.timing import RC, disc_class

DUP_SLOTS = const(8)
_XMAX = const(56)  # ADDRESS + CTL + RP(48) + tag


def frame_key(b, n):
    """Duplicate key of a whole frame: CRC-16 and length (< 2**24, a small int)."""
    return crc16_ccitt(b, n) | (n << 16)


class DupRing:
    """The last DUP_SLOTS frame keys acted upon, each live for window_ms."""

    def __init__(self, window_ms, size=DUP_SLOTS):
        self.window = window_ms
        self.keys = [-1] * size
        self.exp = [0] * size
        self.pos = 0

    def seen(self, key, now_ms):
        """True if key is live (a duplicate); otherwise remember it and return False."""
        keys = self.keys
        exp = self.exp
        for i in range(len(keys)):
            if keys[i] == key and exp[i] > now_ms:
                return True
        i = self.pos
        keys[i] = key
        exp[i] = now_ms + self.window
        self.pos = (i + 1) % len(keys)
        return False

    def snapshot(self):
        return (tuple(self.keys), tuple(self.exp), self.pos)


class Busy:
    """Repeater busy timer: one relayed exchange at a time."""

    def __init__(self):
        self.until = 0
        self.active = False
        self.rc = False
        self.bcast = False
        self.xid = bytearray(_XMAX)  # ADDRESS(6) CTL RP tag of the exchange
        self.xlen = 0

    def busy(self, now_ms):
        if self.active and now_ms >= self.until:
            self.active = False
        return self.active

    def _ident(self, f, out, with_addr):
        b = f.buf
        p = 0
        if with_addr:
            for i in range(1, 7):
                out[p] = b[i]
                p += 1
        for i in range(7, f.rsv):
            out[p] = b[i]
            p += 1
        out[p] = f.tag
        return p + 1

    def same(self, f):
        """Does parsed frame f (either direction) belong to the current exchange?

        ADDRESS is compared only for unicast exchanges (uplink answers to a broadcast carry
        each responder's own address)."""
        if not self.active:
            return False
        b = f.buf
        x = self.xid
        p = 0
        if not self.bcast:
            for i in range(1, 7):
                if b[i] != x[p]:
                    return False
                p += 1
        if p + (f.rsv - 7) + 1 != self.xlen:
            return False
        for i in range(7, f.rsv):
            if b[i] != x[p]:
                return False
            p += 1
        return x[p] == f.tag

    def start(self, f, bcast, until_ms):
        self.active = True
        self.until = until_ms
        self.bcast = bcast
        self.rc = disc_class(f.disc) == RC
        self.xlen = self._ident(f, self.xid, not bcast)

    def answered(self, f):
        """An uplink answer of the exchange was relayed: end the busy period (not for RC)."""
        if not self.rc and self.same(f):
            self.active = False

    def snapshot(self):
        return (self.active, self.until, bytes(self.xid[: self.xlen]))
