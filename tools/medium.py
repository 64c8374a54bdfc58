"""The simulated PLC medium: one process that meters and the concentrator connect to on 127.0.0.1.

Discrete-event simulated time (docs/simulation.md): the medium is the time master. Every node
answers each event it receives (CLOCK or RX) with zero or more TX messages and exactly one IDLE
carrying the time it next needs to wake. When every node is idle, the medium jumps to the next
event: the earliest end of a frame on the air or the earliest wake-up.

Frame-level mode: a frame sent by A reaches every node B that has a link A-B in the topology.
At B it is lost if B transmits at any time during it (half duplex), if another transmission that
B hears overlaps it and the wanted one is not at least `capture_db` stronger than the strongest
of them (collision), or with the probability of the frame-error-rate curve at the
signal-to-interference-plus-noise ratio (FerCurve.fer, the one place of the curve lookup), or
with the link's forced `drop` probability. Airtime is phy.profile.airtime_us of the firmware.

    python tools/medium.py tools/topologies/chain4.json [--port 0] [--seed 1] [--stats out.json]
prints "PORT <n>" once it listens, runs until the master sends QUIT (or disconnects), then
sends QUIT to every node and writes its statistics.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import selectors
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.mm_frame import airtime_us  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PHY_BENCH_JSON = ROOT / "build" / "bench" / "phy.json"
# The last committed `make bench-phy` result, so a clean clone also simulates the measured PHY.
PHY_BENCH_COMMITTED = ROOT / "tools" / "data" / "phy_bench.json"

NO_WAKE = 0xFFFFFFFF
ROLE_METER, ROLE_MASTER = 0, 1
MODE_FRAME, MODE_SAMPLE = 0, 1
CAPTURE_DB = 6.0
TX_LEVEL_DBUV = 120.0
NOISE_DBUV = 50.0
# Eb/N0 = SNR + 10 log10(2): the medium's SNR is per coded symbol in the symbol-rate bandwidth
# (Es/N0), and one data bit is two coded symbols (rate-1/2 FEC, phy profile v1).
EBN0_MINUS_SNR_DB = 10 * math.log10(2)
MAX_AIR_US = airtime_us(255)


# --- frame-error-rate curve -------------------------------------------------------------------

# Built-in curve used when build/bench/phy.json does not exist: the usual waterfall of B-PSK with
# a K=7 rate-1/2 convolutional code and soft Viterbi decoding (BER 1e-5 near Eb/N0 4.5 dB),
# converted to frame errors for a 64-byte payload, plus preamble/sync loss below 1 dB.
BUILTIN_REF_BYTES = 64
BUILTIN_CURVE = [  # (Eb/N0 dB, FER)
    (-2.0, 1.0),
    (0.0, 0.999),
    (1.0, 0.97),
    (2.0, 0.75),
    (3.0, 0.25),
    (4.0, 0.03),
    (5.0, 2e-3),
    (6.0, 1e-4),
    (7.0, 3e-6),
    (8.0, 1e-7),
]


class FerCurve:
    """FER(SNR, frame length): log-linear interpolation of a measured or built-in curve, scaled
    to the frame length assuming independent errors per bit: 1-(1-FER_ref)^(n/n_ref)."""

    MIN_TAIL_SLOPE = -1.0  # decades of FER per dB beyond the last measured point, at least

    def __init__(self, points, ref_bytes, source, floor=1e-7):
        pts = sorted((float(e), min(1.0, max(0.0, float(f)))) for e, f in points)
        if len(pts) < 2:
            raise ValueError("FER curve needs two points")
        # A measured FER of 0 means "below what the run could resolve": use the floor. Then
        # force the curve to be non-increasing (measurement noise at few frames per point).
        clean = []
        best = 1.0
        for e, f in pts:
            best = min(best, max(f, floor))
            clean.append((e, best))
        self.points = clean
        self.ref_bytes = ref_bytes
        self.source = source
        self.floor = floor
        (e0, f0), (e1, f1) = clean[-2], clean[-1]
        slope = (math.log10(f1) - math.log10(f0)) / (e1 - e0) if e1 > e0 else 0.0
        self.tail_slope = min(slope, self.MIN_TAIL_SLOPE)

    @classmethod
    def load(cls, path=PHY_BENCH_JSON):
        """The FER curve from `path`: by default this machine's last bench run, or, when it has
        none, the committed bench result; None or an unreadable file gives the built-in curve."""
        path = Path(path) if path else None
        if path == PHY_BENCH_JSON and not path.exists():
            path = PHY_BENCH_COMMITTED
        if path is not None and path.exists():
            try:
                return cls._from_bench(json.loads(path.read_text()), str(path))
            except (ValueError, KeyError, TypeError) as e:
                print(f"medium: ignoring {path}: {e}", file=sys.stderr)
        return cls(BUILTIN_CURVE, BUILTIN_REF_BYTES, "builtin")

    @classmethod
    def _from_bench(cls, d, source):
        """Accept the PHY benchmark's JSON: a list of {ebn0_db, fer} points (at the top level or
        under "fer_curve"/"points"/"curves"[0]), or parallel "ebn0_db"/"fer" lists; the payload
        length under "payload_bytes"/"frame_bytes" (default 64; 128 for bench_phy's "coded"
        list, which measures 128-byte frames)."""
        if "curves" in d and isinstance(d["curves"], list) and d["curves"]:
            base = dict(d)
            base.update(d["curves"][0])
            d = base
        default_ref = 128 if isinstance(d.get("coded"), list) else BUILTIN_REF_BYTES
        ref = int(d.get("payload_bytes", d.get("frame_bytes", default_ref)))
        pts = None
        for k in ("fer_curve", "points", "coded", "awgn"):
            if isinstance(d.get(k), list):
                pts = d[k]
                break
        if pts is not None:
            out = []
            frames = None
            for p in pts:
                if isinstance(p, dict):
                    e = p.get("ebn0_db", p.get("ebn0"))
                    if e is None and "snr_db" in p:
                        e = p["snr_db"] + EBN0_MINUS_SNR_DB
                    out.append((e, p["fer"]))
                    if p.get("frames"):
                        frames = max(frames or 0, int(p["frames"]))
                else:
                    out.append((p[0], p[1]))
            # a point with no lost frame out of N only says FER < ~1/N
            floor = 0.5 / frames if frames else 1e-7
            return cls(out, ref, source, floor=min(floor, 1e-2))
        if isinstance(d.get("ebn0_db"), list) and isinstance(d.get("fer"), list):
            return cls(list(zip(d["ebn0_db"], d["fer"])), ref, source)
        raise ValueError("no FER points found")

    def fer_ref(self, ebn0_db):
        """FER of a ref_bytes frame: log-linear between points, 1.0 clamp below the first,
        log-linear extrapolation (at least MIN_TAIL_SLOPE steep) above the last; values under
        1e-12 count as 0."""
        pts = self.points
        if ebn0_db <= pts[0][0]:
            return pts[0][1]
        if ebn0_db >= pts[-1][0]:
            e, f = pts[-1]
            lf = math.log10(f) + self.tail_slope * (ebn0_db - e)
            return 0.0 if lf < -12 else 10**lf
        for (e0, f0), (e1, f1) in zip(pts, pts[1:]):
            if e0 <= ebn0_db <= e1:
                w = (ebn0_db - e0) / (e1 - e0) if e1 > e0 else 0.0
                f = 10 ** (math.log10(f0) + w * (math.log10(f1) - math.log10(f0)))
                return min(1.0, f)
        return pts[-1][1]

    def fer(self, snr_db, nbytes):
        """Probability that a frame of nbytes (data-link frame) received at snr_db is lost."""
        f = self.fer_ref(snr_db + EBN0_MINUS_SNR_DB)
        if f >= 1.0:
            return 1.0
        return 1.0 - (1.0 - f) ** (max(1, nbytes) / self.ref_bytes)


# --- topology ---------------------------------------------------------------------------------


@dataclass
class NodeSpec:
    id: str
    aca: bytes
    role: str = "meter"
    phase: int = 1  # 1..3, 0 = all phases (the concentrator's three-phase coupler)
    noise_dbuv: float = NOISE_DBUV
    x: float = 0.0
    y: float = 0.0


@dataclass
class LinkSpec:
    atten_db: float
    drop: float = 0.0
    snr_db: dict = field(default_factory=dict)  # receiver id -> SNR override


class Topology:
    """Nodes and symmetric links. JSON (tools/topologies/*.json, docs/simulation.md):
    {"tx_level_dbuv": 120, "nodes": [{"id", "aca", "role", "phase", "noise_dbuv", "x", "y"}],
     "links": [{"a", "b", "atten_db" | "snr_db", "drop"}]}; missing pairs are out of range."""

    def __init__(self, d):
        self.raw = d
        self.name = d.get("name", "topology")
        self.tx_level = float(d.get("tx_level_dbuv", TX_LEVEL_DBUV))
        self.nodes = {}
        for n in d["nodes"]:
            spec = NodeSpec(
                id=str(n["id"]),
                aca=bytes.fromhex(n["aca"]),
                role=n.get("role", "meter"),
                phase=int(n.get("phase", 0 if n.get("role") == "master" else 1)),
                noise_dbuv=float(n.get("noise_dbuv", d.get("noise_dbuv", NOISE_DBUV))),
                x=float(n.get("x", 0.0)),
                y=float(n.get("y", 0.0)),
            )
            if len(spec.aca) != 6:
                raise ValueError(f"node {spec.id}: ACA must be 6 bytes")
            self.nodes[spec.id] = spec
        self.by_aca = {n.aca: n.id for n in self.nodes.values()}
        if len(self.by_aca) != len(self.nodes):
            raise ValueError("duplicate ACA in topology")
        self.links = {}
        for ln in d.get("links", []):
            a, b = str(ln["a"]), str(ln["b"])
            if a not in self.nodes or b not in self.nodes or a == b:
                raise ValueError(f"bad link {a}-{b}")
            if "atten_db" in ln:
                spec = LinkSpec(float(ln["atten_db"]), float(ln.get("drop", 0.0)))
            else:  # SNR given: the same SNR at both ends whatever their noise
                snr = float(ln["snr_db"])
                spec = LinkSpec(self.tx_level - NOISE_DBUV - snr, float(ln.get("drop", 0.0)))
                spec.snr_db = {a: snr, b: snr}
            self.links[frozenset((a, b))] = spec
        self.neighbours = {i: [] for i in self.nodes}
        for key in self.links:
            a, b = sorted(key)
            self.neighbours[a].append(b)
            self.neighbours[b].append(a)
        for v in self.neighbours.values():
            v.sort()

    @classmethod
    def load(cls, path):
        return cls(json.loads(Path(path).read_text()))

    def master(self):
        for n in self.nodes.values():
            if n.role == "master":
                return n
        return None

    def link(self, a, b):
        return self.links.get(frozenset((a, b)))

    def rx_level(self, tx, rx):
        """(level dBuV, SNR dB vs noise only) of tx heard at rx, or None when out of range."""
        ln = self.link(tx, rx)
        if ln is None:
            return None
        level = self.tx_level - ln.atten_db
        snr = ln.snr_db.get(rx)
        if snr is None:
            snr = level - self.nodes[rx].noise_dbuv
        return level, snr

    def in_phase(self, tx, rx):
        pa, pb = self.nodes[tx].phase, self.nodes[rx].phase
        return pa == 0 or pb == 0 or pa == pb

    def hops_from_master(self, min_snr_db=None):
        """Ground truth: BFS hop count from the master over links (optionally only links whose
        SNR in both directions is >= min_snr_db). Unreachable nodes are absent."""
        m = self.master()
        if m is None:
            return {}
        dist = {m.id: 0}
        todo = [m.id]
        while todo:
            nxt = []
            for a in todo:
                for b in self.neighbours[a]:
                    if b in dist:
                        continue
                    if min_snr_db is not None:
                        s1 = self.rx_level(a, b)[1]
                        s2 = self.rx_level(b, a)[1]
                        if min(s1, s2) < min_snr_db:
                            continue
                    dist[b] = dist[a] + 1
                    nxt.append(b)
            todo = nxt
        return dist


# --- the discrete-event core --------------------------------------------------------------------


@dataclass
class Tx:
    src: str
    start_ms: int
    start_us: int
    end_us: int
    end_ms: int
    frame: bytes
    seq: int
    delivered: bool = False
    collided: bool = False


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.id = None
        self.role = None
        self.mode = MODE_FRAME
        self.outstanding = 0
        self.wake = None
        self.alive = True
        self.last_tx = None
        self.started = True  # False while a rejoined node boots: nothing is delivered to it


def pack(kind, body=b""):
    payload = kind + body
    return struct.pack(">H", len(payload)) + payload


def msg_clock(t):
    return pack(b"C", struct.pack(">I", t))


def msg_rx(t, rssi, snr, in_phase, frame):
    q = lambda v: max(-32768, min(32767, int(round(v * 4))))  # noqa: E731
    ph = 2 if in_phase is None else (1 if in_phase else 0)
    return pack(b"R", struct.pack(">IhhB", t, q(rssi), q(snr), ph) + bytes(frame))


def msg_quit(t):
    return pack(b"Q", struct.pack(">I", t))


class SampleChannel:
    """Sample-level mode (small topologies): every transmission is a waveform of the firmware
    transmitter's DAC codes — sent by a SoftPhy meter (`W`), or made with tools/phy_mp.py for a
    frame-level node (the concentrator). At each receiver the waveforms it hears that overlap
    the wanted one are added with their relative attenuation, and the sum goes through
    tools/channel.py (attenuation of the wanted link, AWGN at the link's Eb/N0 = SNR + 3 dB,
    RX band-pass, 38.4 kHz 12-bit ADC). A SoftPhy meter gets the ADC codes (`S`) and decodes
    them itself; a frame-level node gets what the firmware receiver (run by tools/phy_mp.py)
    decodes from them, as `R`. Collisions are therefore physical, not the capture rule."""

    def __init__(self, topo, seed):
        from tools import channel, phy_mp

        self.channel = channel
        self.phy_mp = phy_mp
        self.topo = topo
        self.seed = seed
        self.fs_tx = channel.FS_TX
        self.n = 0

    def waveform(self, frame, wave):
        import numpy as np

        if wave is not None:
            return np.frombuffer(wave, dtype="<u2").astype(np.int32) - 2048
        return self.phy_mp.tx_frames([frame]).astype(np.int32) - 2048

    def deliver(self, med, tx, rx, t, mode):
        import numpy as np

        topo = self.topo
        ln = topo.link(tx.src, rx)
        level, snr = topo.rx_level(tx.src, rx)
        start = tx.start_us * self.fs_tx // 1_000_000
        x = tx.wave.astype(float)
        for y in med.txs:
            if y is tx or y.start_us >= tx.end_us or tx.start_us >= y.end_us:
                continue
            if y.src == rx:
                med.stats["lost_half_duplex"] += 1
                return []
            lv = topo.rx_level(y.src, rx)
            if lv is None:
                continue
            off = y.start_us * self.fs_tx // 1_000_000 - start
            a, b = max(0, off), min(len(x), off + len(y.wave))
            if a < b:
                x[a:b] += y.wave[a - off : b - off] * 10 ** ((lv[0] - level) / 20)
        self.n += 1
        adc = self.channel.channel(
            np.round(x).astype(np.int64) + 2048,
            ebn0_db=snr + EBN0_MINUS_SNR_DB,
            atten_db=ln.atten_db,
            seed=self.seed + self.n,
        )
        med.stats["delivered"] += 1
        if mode == MODE_SAMPLE:
            return [pack(b"S", struct.pack(">I", t) + adc.astype("<u2").tobytes())]
        res = self.phy_mp.rx_samples(adc)
        ph = topo.in_phase(tx.src, rx)
        return [msg_rx(t, r, s / 4, ph, f) for f, r, s, _ in res["frames"]]


class Medium:
    def __init__(
        self,
        topo: Topology,
        curve: FerCurve | None = None,
        seed=1,
        capture_db=CAPTURE_DB,
        max_sim_ms=None,
        node_timeout_s=60.0,
        log=None,
        trace=None,
        rejoin_s=0.0,
        boot_ms=0,
    ):
        self.topo = topo
        # A meter that leaves (a unix_sim reset ends its process) may come back: with rejoin_s
        # > 0 simulated time stands still until it says HELLO again (or rejoin_s of wall time
        # pass: then it is gone for good); it gets its first event boot_ms later (booting).
        self.rejoin_s = rejoin_s
        self.boot_ms = boot_ms
        self.down = {}  # node id -> wall time it left, while a rejoin is awaited
        self.curve = curve or FerCurve.load()
        self.rng = random.Random(seed)
        self.capture_db = capture_db
        self.max_sim_ms = max_sim_ms
        self.node_timeout_s = node_timeout_s
        self.log = log or (lambda s: None)
        self.trace = trace  # callable(event dict) or None
        self.t = 0
        self.txs: list[Tx] = []
        self.seq = 0
        self.conns: dict[str, Conn] = {}
        self.sel = selectors.DefaultSelector()
        self.listener = None
        self.port = None
        self.stop_reason = None
        self.wall_s = 0.0
        self.sample = None  # SampleChannel once a node joins in sample mode
        self.stats = {
            "frames_tx": 0,
            "bytes_tx": 0,
            "airtime_ms": 0,
            "receptions": 0,
            "delivered": 0,
            "lost_collision": 0,
            "lost_half_duplex": 0,
            "lost_fer": 0,
            "lost_drop": 0,
            "collided_frames": 0,
            "events": 0,
            "rejoined": 0,
            "tx_by_node": {},
        }

    # --- connections -----------------------------------------------------------------------------

    def listen(self, port=0, host="127.0.0.1"):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(1024)
        self.listener = s
        self.port = s.getsockname()[1]
        return self.port

    def accept_all(self, timeout_s=60.0, expected=None):
        """Accept connections until every topology node (or `expected` ids) said HELLO."""
        want = set(expected if expected is not None else self.topo.nodes)
        pending = []
        deadline = time.monotonic() + timeout_s
        self.listener.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, None)
        while want - set(self.conns):
            left = deadline - time.monotonic()
            if left <= 0:
                missing = sorted(want - set(self.conns))
                raise TimeoutError(f"nodes never connected: {missing[:10]} ({len(missing)})")
            for key, _ in sel.select(min(left, 0.5)):
                if key.data is None:
                    try:
                        s, _ = self.listener.accept()
                    except BlockingIOError:
                        continue
                    s.setblocking(True)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    c = Conn(s)
                    pending.append(c)
                    sel.register(s, selectors.EVENT_READ, c)
                else:
                    c = key.data
                    if not self._read(c):
                        sel.unregister(c.sock)
                        continue
                    for body in self._messages(c):
                        if body[:1] == b"H":
                            self._hello(c, body)
                        else:
                            self.log(f"unexpected message before start from {c.id}")
        sel.close()
        for c in self.conns.values():
            self.sel.register(c.sock, selectors.EVENT_READ, c)
            c.started = True
        if self.rejoin_s > 0:  # nodes coming back after a reset connect during the run
            self.sel.register(self.listener, selectors.EVENT_READ, None)
        if any(c.mode == MODE_SAMPLE for c in self.conns.values()):
            self.sample = SampleChannel(self.topo, self.rng.randrange(1 << 30))

    def _hello(self, c, body):
        aca = bytes(body[1:7])
        node = self.topo.by_aca.get(aca)
        if node is None:
            self.log(f"HELLO from unknown ACA {aca.hex()}: refused")
            c.sock.close()
            return
        c.id = node
        c.role = body[7] if len(body) > 7 else ROLE_METER
        c.mode = body[8] if len(body) > 8 else MODE_FRAME
        old = self.conns.get(node)
        if old is not None and old is not c:
            self.log(f"{node} reconnected")
            if old.alive:  # the old process is still there: this one replaces it
                self._dead(old, "replaced by a new connection")
            self.down.pop(node, None)
            self.stats["rejoined"] += 1
            c.started = False  # first event at t + boot_ms (run: wake)
            c.wake = self.t + self.boot_ms
        self.conns[node] = c
        self.stats["tx_by_node"].setdefault(node, 0)

    def _read(self, c):
        try:
            data = c.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            c.alive = False
            return False
        c.buf += data
        return True

    @staticmethod
    def _messages(c):
        while len(c.buf) >= 2:
            n = (c.buf[0] << 8) | c.buf[1]
            h = 2
            if n == 0:  # long form (sample waveforms): u32 length follows
                if len(c.buf) < 6:
                    break
                n = struct.unpack_from(">I", c.buf, 2)[0]
                h = 6
            if len(c.buf) < h + n:
                break
            body = bytes(c.buf[h : h + n])
            del c.buf[: h + n]
            yield body

    def _send(self, c, data):
        if not c.alive:
            return False
        try:
            c.sock.sendall(data)
            return True
        except OSError:
            self._dead(c, "send failed")
            return False

    def _dead(self, c, why):
        if not c.alive and c.outstanding == 0:
            return
        self.log(f"node {c.id} lost: {why}")
        c.alive = False
        c.outstanding = 0
        c.wake = None
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        if c.role == ROLE_MASTER and self.stop_reason is None:
            self.stop_reason = "master disconnected"
        elif self.rejoin_s > 0 and c.id is not None and self.conns.get(c.id) is c:
            self.down[c.id] = time.monotonic()

    def _accept(self):
        try:
            s, _ = self.listener.accept()
        except (BlockingIOError, OSError):
            return
        s.setblocking(True)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sel.register(s, selectors.EVENT_READ, Conn(s))

    def _serve(self, timeout_s):
        """One select round: accept rejoining nodes, read and handle what arrived."""
        for key, _ in self.sel.select(timeout_s):
            c = key.data
            if c is None:
                self._accept()
                continue
            if not self._read(c):
                if c.id is None:
                    self.sel.unregister(c.sock)
                    c.alive = False
                else:
                    self._dead(c, "disconnected")
                continue
            for body in self._messages(c):
                if body[:1] == b"H":
                    self._hello(c, body)
                elif c.id is not None:
                    self._handle(c, body)

    def _wait_rejoin(self):
        """Simulated time stands still while a node that left may still come back."""
        while self.down and self.stop_reason is None:
            now = time.monotonic()
            for node, since in list(self.down.items()):
                if now - since > self.rejoin_s:
                    self.log(f"{node} did not come back within {self.rejoin_s:.0f} s")
                    del self.down[node]
            if self.down:
                self._serve(0.2)

    # --- events ---------------------------------------------------------------------------

    def _post(self, c, data):
        if self._send(c, data):
            c.outstanding += 1
            self.stats["events"] += 1

    def _wait_idle(self):
        """Read TX/IDLE/QUIT from the nodes until none owes an IDLE."""
        deadline = time.monotonic() + self.node_timeout_s
        while any(c.alive and c.outstanding for c in self.conns.values()):
            left = deadline - time.monotonic()
            if left <= 0:
                for c in self.conns.values():
                    if c.alive and c.outstanding:
                        self._dead(c, "no IDLE within %.0f s" % self.node_timeout_s)
                break
            self._serve(left)

    def _handle(self, c, body):
        kind = body[:1]
        if kind == b"T":
            t = struct.unpack_from(">I", body, 1)[0]
            if t != self.t:
                self.log(f"{c.id}: TX stamped {t} at medium time {self.t}")
            self._add_tx(c, bytes(body[5:]))
        elif kind == b"I":
            _, wake = struct.unpack_from(">II", body, 1)
            c.outstanding = max(0, c.outstanding - 1)
            if wake == NO_WAKE:
                c.wake = None
            else:
                c.wake = max(wake, self.t + 1)
        elif kind == b"W":  # sample mode: a waveform of DAC codes starting now
            self._add_tx(c, None, bytes(body[5:]))
        elif kind == b"Q":
            self.stop_reason = f"QUIT from {c.id}"
        else:
            self.log(f"{c.id}: unknown message {kind!r}")

    def _add_tx(self, c, frame, wave=None):
        t = self.t
        if self.sample is not None:
            wave = self.sample.waveform(frame, wave)
            air = -(-len(wave) * 1_000_000 // self.sample.fs_tx)
            frame = frame if frame is not None else b""
        else:
            air = airtime_us(len(frame))
        start_us = t * 1000
        end_us = start_us + air
        tx = Tx(c.id, t, start_us, end_us, -(-end_us // 1000), frame, self.seq)
        tx.wave = wave
        self.seq += 1
        self.txs.append(tx)
        st = self.stats
        st["frames_tx"] += 1
        st["bytes_tx"] += len(frame) if frame else 0
        st["airtime_ms"] += -(-air // 1000)
        st["tx_by_node"][c.id] = st["tx_by_node"].get(c.id, 0) + 1
        if self.trace:
            self.trace({"t": t, "ev": "tx", "node": c.id, "frame": frame.hex()})

    def _fate(self, tx, rx):
        """Decide the reception of tx at node rx: (ok, level, sinr, reason)."""
        topo = self.topo
        level, snr = topo.rx_level(tx.src, rx)
        noise = level - snr
        interf = []
        for y in self.txs:
            if y is tx or y.start_us >= tx.end_us or tx.start_us >= y.end_us:
                continue
            if y.src == rx:
                return False, level, snr, "half_duplex"
            lv = topo.rx_level(y.src, rx)
            if lv is not None:
                interf.append(lv[0])
        sinr = snr
        if interf:
            if level - max(interf) < self.capture_db:
                return False, level, snr, "collision"
            p = 10 ** (noise / 10) + sum(10 ** (i / 10) for i in interf)
            sinr = level - 10 * math.log10(p)
        ln = topo.link(tx.src, rx)
        if ln.drop and self.rng.random() < ln.drop:
            return False, level, sinr, "drop"
        if self.rng.random() < self.curve.fer(sinr, len(tx.frame)):
            return False, level, sinr, "fer"
        return True, level, sinr, "ok"

    def _deliveries(self, t):
        out = {}  # node id -> [messages]
        st = self.stats
        due = sorted(
            (x for x in self.txs if not x.delivered and x.end_ms <= t), key=lambda x: x.seq
        )
        for tx in due:
            tx.delivered = True
            for rx in self.topo.neighbours[tx.src]:
                c = self.conns.get(rx)
                if c is None or not c.alive or not c.started:
                    continue
                st["receptions"] += 1
                if self.sample is not None:
                    for m in self.sample.deliver(self, tx, rx, t, c.mode):
                        out.setdefault(rx, []).append(m)
                    continue
                ok, level, sinr, why = self._fate(tx, rx)
                if self.trace:
                    self.trace({"t": t, "ev": "rx", "src": tx.src, "dst": rx, "fate": why})
                if not ok:
                    key = "lost_" + why
                    st[key] += 1
                    if why == "collision" and not tx.collided:
                        tx.collided = True
                        st["collided_frames"] += 1
                    continue
                st["delivered"] += 1
                out.setdefault(rx, []).append(
                    msg_rx(t, level, sinr, self.topo.in_phase(tx.src, rx), tx.frame)
                )
        horizon = t * 1000 - MAX_AIR_US
        self.txs = [x for x in self.txs if not x.delivered or x.end_us > horizon]
        return out

    def run(self):
        t0 = time.monotonic()
        self.t = 0
        for c in sorted(self.conns.values(), key=lambda c: c.id):
            self._post(c, msg_clock(0))
        self._wait_idle()
        while self.stop_reason is None:
            self._wait_rejoin()
            cands = [x.end_ms for x in self.txs if not x.delivered]
            cands += [c.wake for c in self.conns.values() if c.alive and c.wake is not None]
            if not cands:
                self.stop_reason = "no more events"
                break
            t = min(cands)
            if self.max_sim_ms is not None and t > self.max_sim_ms:
                self.stop_reason = "simulated time limit"
                break
            self.t = t
            rx = self._deliveries(t)
            for c in sorted(self.conns.values(), key=lambda c: c.id):
                if not c.alive:
                    continue
                msgs = rx.get(c.id)
                if msgs:
                    for m in msgs:
                        self._post(c, m)
                    if c.wake is not None and c.wake <= t:
                        c.wake = None
                elif c.wake is not None and c.wake <= t:
                    c.wake = None
                    c.started = True
                    self._post(c, msg_clock(t))
            self._wait_idle()
        self.wall_s = time.monotonic() - t0
        self.log(f"medium stops at t={self.t} ms: {self.stop_reason}")
        self.shutdown()
        return self.summary()

    def shutdown(self):
        for c in self.conns.values():
            if c.alive:
                self._send(c, msg_quit(self.t))
            try:
                c.sock.close()
            except OSError:
                pass
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def summary(self):
        d = dict(self.stats)
        d["sim_ms"] = self.t
        d["wall_s"] = round(self.wall_s, 3)
        d["stop"] = self.stop_reason
        d["fer_curve"] = self.curve.source
        d["capture_db"] = self.capture_db
        d["nodes"] = len(self.conns)
        return d


def serve_in_thread(topo, **kw):
    """Start a Medium listening on an ephemeral port in a thread. Returns (medium, thread);
    the thread accepts every node of the topology, runs, and stores medium.result."""
    connect_timeout = kw.pop("connect_timeout_s", 60.0)
    m = Medium(topo, **kw)
    m.listen(0)
    m.result = None
    m.error = None

    def main():
        try:
            m.accept_all(connect_timeout)
            m.result = m.run()
        except Exception as e:  # reported by the caller
            m.error = e
            m.shutdown()

    th = threading.Thread(target=main, daemon=True, name="medium")
    th.start()
    return m, th


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("topology")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--capture-db", type=float, default=CAPTURE_DB)
    ap.add_argument("--fer-json", default=str(PHY_BENCH_JSON))
    ap.add_argument("--max-sim-s", type=float, default=None)
    ap.add_argument("--connect-timeout", type=float, default=120.0)
    ap.add_argument("--stats", default=None, help="write statistics JSON here at the end")
    ap.add_argument("--trace", default=None, help="write every tx/rx decision as JSON lines")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    topo = Topology.load(a.topology)
    trace_f = open(a.trace, "w") if a.trace else None  # noqa: SIM115
    med = Medium(
        topo,
        FerCurve.load(a.fer_json),
        seed=a.seed,
        capture_db=a.capture_db,
        max_sim_ms=None if a.max_sim_s is None else int(a.max_sim_s * 1000),
        log=(lambda s: print("medium:", s, file=sys.stderr)) if a.verbose else None,
        trace=(lambda ev: trace_f.write(json.dumps(ev) + "\n")) if trace_f else None,
    )
    port = med.listen(a.port)
    print(f"PORT {port}", flush=True)
    med.accept_all(a.connect_timeout)
    res = med.run()
    if trace_f:
        trace_f.close()
    if a.stats:
        Path(a.stats).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != "tx_by_node"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
