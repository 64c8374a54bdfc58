"""The nodes this meter hears, and how well (docs/datalink.md §6.1, register 0x0205).

Every frame the PHY hands up names the node that sent this copy of it (the Reserved byte's
hop index points into the path: the master, a route entry, or the responder of an answer), so
overhearing the section's ordinary traffic — discovery, reads, repeated frames — tells a meter
its neighbours without any frame of its own. The concentrator reads the table to choose which
meters relay a download and when (docs/download.md §5.4). Fixed size, preallocated: noting a
frame allocates nothing.
"""

from array import array

from micropython import const

ENTRIES = const(12)
ENTRY = const(8)  # ACA(6, wire order; 00 x 6 = the master) SIG(1, dBuV) SNR(1, quarter dB)
_RP = const(8)  # offset of the first route entry (docs/datalink.md §1)
_EMPTY = const(-1)
UNKNOWN = const(255)


def _clamp(v):
    return 0 if v < 0 else 254 if v > 254 else v


class Heard:
    def __init__(self):
        self.aca = bytearray(6 * ENTRIES)
        self.sig16 = array("h", [_EMPTY] * ENTRIES)  # dBuV << 4, averaged; -1 = free
        self.snr16 = array("h", [_EMPTY] * ENTRIES)  # quarter dB << 4; -1 = unknown
        self.pos = bytearray(ENTRIES)  # the sender's path position (its hops from the master)
        self.level = 0  # ours: path position of the frames addressed to us, 0 = unknown

    def note(self, f, info):
        """Fold frame f (mac.frame.Frame, parsed) received with PHY info into the table."""
        if info is None or f.esize != 6:
            return
        r = getattr(info, "rssi", None)
        if r is None:
            return
        h = f.hop
        if h == 0 and not f.up:
            if f.dsap != 0:
                return  # NM ADDRESS.REQ: also sent by a meter running a REQADDR round
            off = -1  # the master
        elif 1 <= h <= f.nrp:
            off = _RP + 6 * (h - 1)
        elif f.up and h == f.nrp + 1:
            off = 1  # ADDRESS: the responder
        else:
            return
        s = getattr(info, "snr", None)
        self._fold(
            f.buf, off, _clamp(int(r)) << 4, _EMPTY if s is None else _clamp(int(s)) << 4, h
        )

    def _up(self, pos):
        """1 for a node closer to the master than us (where a download's copies come from,
        docs/download.md §5.6): those are kept before the others, then the stronger."""
        return 1 if self.level and pos < self.level else 0

    def _find(self, buf, off):
        a = self.aca
        for i in range(ENTRIES):
            if self.sig16[i] == _EMPTY:
                continue
            j = 6 * i
            k = 0
            while k < 6 and a[j + k] == (0 if off < 0 else buf[off + k]):
                k += 1
            if k == 6:
                return i
        return -1

    def _fold(self, buf, off, sig, snr, pos):
        i = self._find(buf, off)
        if i >= 0:  # running average, weight 1/4 (as the ADDRESS.RESP metrics)
            self.sig16[i] += (sig - self.sig16[i]) >> 2
            self.pos[i] = pos
            if snr != _EMPTY:
                o = self.snr16[i]
                self.snr16[i] = snr if o == _EMPTY else o + ((snr - o) >> 2)
            return
        w = 0
        for k in range(ENTRIES):
            if self.sig16[k] == _EMPTY:
                w = k
                break
            uk, uw = self._up(self.pos[k]), self._up(self.pos[w])
            if uk < uw or (uk == uw and self.sig16[k] < self.sig16[w]):
                w = k
        if self.sig16[w] != _EMPTY:
            un, uw = self._up(pos), self._up(self.pos[w])
            if un < uw or (un == uw and sig <= self.sig16[w]):
                return
        weakest = w
        j = 6 * weakest
        for k in range(6):
            self.aca[j + k] = 0 if off < 0 else buf[off + k]
        self.sig16[weakest] = sig
        self.snr16[weakest] = snr
        self.pos[weakest] = pos

    def into(self, out):
        """The table as register 0x0205: ENTRIES x ENTRY bytes, strongest first, free entries
        all zero (an ACA of zeros with SIG 0 cannot be a heard node)."""
        order = sorted(
            (i for i in range(ENTRIES) if self.sig16[i] != _EMPTY), key=lambda i: -self.sig16[i]
        )
        for k in range(len(out)):
            out[k] = 0
        for n, i in enumerate(order):
            o = n * ENTRY
            out[o : o + 6] = self.aca[6 * i : 6 * i + 6]
            out[o + 6] = (self.sig16[i] + 8) >> 4
            out[o + 7] = UNKNOWN if self.snr16[i] == _EMPTY else (self.snr16[i] + 8) >> 4
        return out
