"""Helpers for the mac tests (no tests here): an independent frame builder written from
docs/datalink.md (plain concatenation, not mac.frame.encode), PHY info, a dict store and a tiny
simulated medium that delivers frames to the nodes in range at simulated times, and new_mac():
a MAC on the simulated links' airtime whose faults re-raise (strict)."""

from drivers.sim.air import airtime_ms as air
from faults import Faults
from mac.link import Mac
from mac.params import Params  # noqa: F401 - re-exported for the tests

BCAST = b"\xff\xff\xff\xff\xff\x03"


def aca(i):
    """A test ACA in wire order; byte 5 never 0x03."""
    return bytes((0x10 + i, 0x20, 0x30, 0x40, 0x50, 0x60 + (i & 0x0F)))


def mk(
    addr,
    disc=2,
    route=(),
    up=0,
    tag=0,
    hop=0,
    poll=1,
    dsap=0,
    ecc=0,
    lsdu=b"\x02\x00\x3f",
    ctl=None,
    rsv=None,
    infctl=None,
    lt=None,
):
    """Frame bytes per docs/datalink.md §1. route: sequence of entry byte strings."""
    rp = b"".join(route)
    n = len(route)
    if ctl is None:
        ctl = (disc << 4) | (1 if n == 0 else (n - 1) << 1)
    if rsv is None:
        rsv = (0x80 if up else 0) | (tag << 4) | hop
    if infctl is None:
        infctl = 1 if poll else 0
    body = bytes(addr) + bytes((ctl,)) + rp + bytes((rsv, infctl, (dsap << 4) | ecc)) + lsdu
    if lt is None:
        lt = len(body)
    return bytes((lt,)) + body


def new_mac(aca_wire, faults=None, **kw):
    """A Mac timed by the unix_sim links' airtime, strict unless given its own Faults."""
    return Mac(aca_wire, air, faults=faults or Faults(strict=True), **kw)


class Info:
    def __init__(self, rssi=None, snr=None, in_phase=None, tx_imp=None, t_end_ms=0):
        self.t_end_ms = t_end_ms
        self.rssi = rssi
        self.snr = snr
        self.in_phase = in_phase
        if tx_imp is not None:
            self.tx_imp = tx_imp


class DictStore:
    def __init__(self):
        self.d = {}
        self.puts = 0

    def get(self, key):
        return self.d.get(key)

    def put(self, key, value):
        self.puts += 1
        self.d[key] = bytes(value)


class Rng:
    """Deterministic getrandbits (LCG), one per node."""

    def __init__(self, seed):
        self.s = seed & 0x7FFFFFFF or 1

    def __call__(self, nbits):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.s >> 8) & ((1 << nbits) - 1)


def echo_app(lsdu, ctx):
    """Test-only responder: READ.REQ (2) -> READ.RESP (3) echoing the APDU."""
    if lsdu[0] == 2:
        return bytes((3,)) + bytes(lsdu[1:])
    return None


def _for_master(frame):
    from mac.frame import OK, Frame

    f = Frame()
    return f.parse(frame) == OK and f.up and f.hop == 1


class Medium:
    """Frames reach every node in range when their airtime ends; no collision model, but
    overlapping transmissions heard by one node are counted in `overlaps`."""

    def __init__(self, nodes, links, master="M"):
        self.nodes = nodes  # name -> Mac
        self.adj = {}
        for a, b in links:
            self.adj.setdefault(a, set()).add(b)
            self.adj.setdefault(b, set()).add(a)
        self.master = master
        self.now = 0
        self.events = []  # [t, seq, dst, frame, src]
        self.seq = 0
        self.log = []  # (t_start, src, frame)
        self.master_heard = []  # (t, frame): everything in the master's range
        self.master_rx = []  # (t, frame): uplink frames whose next hop is the master
        self.busy_until = {}  # receiver -> end of last frame heard
        self.overlaps = 0
        self.info = Info(rssi=80, snr=50, in_phase=True)

    def send(self, src, frame, t=None):
        t = self.now if t is None else t
        self.log.append((t, src, frame))
        end = t + air(len(frame))
        for dst in self.adj.get(src, ()):
            if self.busy_until.get(dst, -1) > t:
                self.overlaps += 1
            self.busy_until[dst] = end
            self.seq += 1
            self.events.append([end, self.seq, dst, frame, src])
        if src in self.nodes:
            self.seq += 1
            self.events.append([end, self.seq, None, None, src])  # tx_done

    def _step(self):
        due = [e for e in self.events if e[0] <= self.now]
        if due:
            self.events = [e for e in self.events if e[0] > self.now]
            due.sort()
            for t, _, dst, frame, src in due:
                if dst is None:
                    self.nodes[src].tx_done(t)
                elif dst == self.master:
                    self.master_heard.append((t, frame))
                    if len(frame) > 8 and _for_master(frame):
                        self.master_rx.append((t, frame))
                elif dst in self.nodes:
                    self.info.t_end_ms = t  # delivered when the frame ends on the air
                    self.nodes[dst].on_rx(frame, self.info, t)
        for name in sorted(self.nodes):
            f = self.nodes[name].poll(self.now)
            if f is not None:
                self.send(name, f)

    def run(self, until):
        while self.now <= until:
            self._step()
            nxt = None
            for e in self.events:
                if nxt is None or e[0] < nxt:
                    nxt = e[0]
            for m in self.nodes.values():
                d = m.next_deadline_ms()
                if d is not None:
                    d = d if d > self.now else self.now + 1
                    if nxt is None or d < nxt:
                        nxt = d
            if nxt is None:
                break
            if nxt > until:
                break
            self.now = nxt
        self.now = until
