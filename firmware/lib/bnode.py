"""The meter's side of its B-Node (a customer device behind this A-Node, 9.1.6.4).

The meter keeps the B-Node's data (publication list 0x1901, message 0x1902) and pushes it in an
update message over the local link (docs/smitp.md §6):

    20 | SEQ(1) | TIME(4) | K(1) | K x (OBJ(2) | LEN(1) | VALUE(LEN))
    answer: 251 | SEQ (ACK B-node)  or  249 | PAR1 (NACK B-node)

`port.exchange(frame) -> answer bytes or None` is the local link (unix_sim: drivers.sim.bnode;
None = no B-Node attached).
"""

from micropython import const

DATASPONT = const(20)
ACK_B = const(251)
NACK_B = const(249)
_PUBLISH = const(0x1901)
_MESSAGE = const(0x1902)


class BNodeLink:
    def __init__(self, port=None):
        self.port = port
        self.present = False
        self.seq = 0
        self.last_update = 0  # wall-clock time of the last acknowledged update (since boot)
        self.last_attempt = 0
        self.sent = 0
        self.refused = 0

    def frame(self, meter):
        """The update message from the meter's current data."""
        from datamodel import registers

        md = meter.model
        ids = md.read(registers.find(_PUBLISH))
        oids = [(ids[i] << 8) | ids[i + 1] for i in range(0, len(ids), 2)]
        oids.append(_MESSAGE)
        t = meter.wallclock.now()
        out = bytearray((DATASPONT, self.seq, t >> 24 & 255, t >> 16 & 255, t >> 8 & 255, t & 255))
        out.append(len(oids))
        for oid in oids:
            v = md.read(registers.find(oid))
            out += bytes((oid >> 8, oid & 255, len(v)))
            out += v
        return bytes(out)

    def update(self, meter):
        """Push one update; True when the B-Node acknowledged it."""
        self.last_attempt = meter.wallclock.now()
        if self.port is None:
            self.present = False
            return False
        self.seq = (self.seq + 1) & 0xFF
        self.sent += 1
        try:
            ans = self.port.exchange(self.frame(meter))
        except OSError:
            ans = None  # the local link failed: as if no B-Node answered
        ok = ans is not None and len(ans) == 2 and ans[0] == ACK_B and ans[1] == self.seq
        self.present = ans is not None
        if ok:
            self.last_update = self.last_attempt
        else:
            self.refused += 1
        return ok
