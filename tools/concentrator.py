"""Concentrator (DCU, master side): discovery, route table, and SMITP requests to meters.

Uses only tools/mm_frame.py and tools/smitp_ref.py (our independent codecs) — never
firmware/lib. The command line, key file, state file and LMON rules are in docs/concentrator.md.

Discovery (facts §4 "Demo DCU discovery", details in docs/simulation.md):
 1. TCT_SET 0xFF broadcast twice (S, no answer): every direct neighbour may answer again.
 2. ADDRESS.REQ rounds (RC, phase 2, TCR 0x55); each new node is silenced with TCT_SET 1
    (RA1, poll -> NACK.RESP). Repeat until `empty_rounds` rounds in a row find nobody new; the
    slot count grows (RC2 -> RC4) while rounds are crowded.
 3. Breadth first over the known nodes (by hop count, then by best path SNR): REQADDR.REQ to the
    node (route = its path); every new node in the REQADDR.RESP gets path = node's path + node
    and is silenced through that path. Repeat per node until a round brings nothing new.
 4. READ.REQ status word (ATTR 2, object 00 3F, plain) to every node; "no answer" is reported.
Every request is retried `retries` times on timeout, with a new exchange tag each time.

Application layer: MeterSession (plain and authenticated READ/WRITE/READTAB/WRITETAB/GETTAB/
SETTAB/COMMAND, CHALLENGE, time sync, key change), LMON per meter in a State file.

    python tools/concentrator.py --medium 127.0.0.1:7000 --out out.json --png map.png
    python tools/concentrator.py --direct 127.0.0.1:7100 --auth keys.json status
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import mm_frame as mm  # noqa: E402
from tools import smitp_ref as ref  # noqa: E402
from tools.dcu_keys import KeyFile, KeyFileError, State  # noqa: E402
from tools.dcu_registers import EPOCH_2000, RegisterTable  # noqa: E402
from tools.dcu_session import MeterSession, NoAnswer, Refused  # noqa: E402

DEFAULT_ACA = bytes.fromhex("dc0000000001")
DEFAULT_STATE = Path("build") / "concentrator" / "state.json"

NO_WAKE = 0xFFFFFFFF
MAX_ROUTE = 8


# --- links -------------------------------------------------------------------------------------


@dataclass
class RxInfo:
    t_ms: int
    rssi: float | None = None
    snr: float | None = None
    in_phase: bool | None = None


class MediumLink:
    """The concentrator as the master node of tools/medium.py (simulated time)."""

    simulated = True

    def __init__(self, host, port, aca=DEFAULT_ACA, connect_timeout_s=30.0):
        deadline = time.monotonic() + connect_timeout_s
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.now = 0
        self.owe = False  # an event was received and no IDLE sent yet
        self.tx_until = 0
        self.frames_tx = 0
        self.ended = False
        self.pending = []  # frames that arrived at the instant we started sending
        self._write(b"H" + bytes(aca) + bytes([1, 0]))
        self._event()  # CLOCK 0 when the medium starts

    def _write(self, body):
        self.sock.sendall(struct.pack(">H", len(body)) + body)

    def _read_msg(self):
        while True:
            if len(self.buf) >= 2:
                n = (self.buf[0] << 8) | self.buf[1]
                if len(self.buf) >= 2 + n:
                    body = bytes(self.buf[2 : 2 + n])
                    del self.buf[: 2 + n]
                    return body
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("medium closed")
            self.buf += data

    def _event(self):
        """Wait for the next event; return (frame, info) for RX, None for CLOCK."""
        body = self._read_msg()
        kind = body[:1]
        t = struct.unpack_from(">I", body, 1)[0]
        self.now = max(self.now, t)
        if kind == b"Q":
            self.ended = True
            raise ConnectionError("medium ended the simulation")
        self.owe = True
        if kind == b"R":
            rssi_q, snr_q, ph = struct.unpack_from(">hhB", body, 5)
            info = RxInfo(t, rssi_q / 4, snr_q / 4, None if ph > 1 else ph == 1)
            return bytes(body[10:]), info
        return None

    def now_ms(self):
        return self.now

    def send(self, frame):
        """Start transmitting now; returns when the frame has left (end of its airtime)."""
        self._write(b"T" + struct.pack(">I", self.now) + bytes(frame))
        self.frames_tx += 1
        end = self.now + mm.airtime_ms(len(frame))
        while self.now < end:  # half duplex: the medium delivers nothing while we send
            got = self._wait(end)
            if got is not None:
                self.pending.append(got)

    def recv(self, until_ms):
        """Next frame received before until_ms as (frame, info), or None at until_ms."""
        if self.pending:
            return self.pending.pop(0)
        return self._wait(until_ms)

    def _wait(self, until_ms):
        while self.now < until_ms:
            if self.owe:
                self._write(b"I" + struct.pack(">II", self.now, until_ms))
                self.owe = False
            got = self._event()
            if got is not None:
                return got
        return None

    def close(self):
        if not self.ended:
            try:
                self._write(b"Q" + struct.pack(">I", self.now))
            except OSError:
                pass
        self.sock.close()


class DirectLink:
    """2-byte length framing to one meter's TcpLinkPhy (real time)."""

    simulated = False

    def __init__(self, host, port, connect_timeout_s=10.0):
        deadline = time.monotonic() + connect_timeout_s
        while True:
            try:
                self.sock = socket.create_connection((host, port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.setblocking(False)
        self.buf = bytearray()
        self.t0 = time.monotonic()
        self.frames_tx = 0

    def now_ms(self):
        return int((time.monotonic() - self.t0) * 1000)

    def send(self, frame):
        self.sock.setblocking(True)
        self.sock.sendall(struct.pack(">H", len(frame)) + bytes(frame))
        self.sock.setblocking(False)
        self.frames_tx += 1

    def recv(self, until_ms):
        while True:
            if len(self.buf) >= 2:
                n = (self.buf[0] << 8) | self.buf[1]
                if len(self.buf) >= 2 + n:
                    f = bytes(self.buf[2 : 2 + n])
                    del self.buf[: 2 + n]
                    return f, RxInfo(self.now_ms())
            left = (until_ms - self.now_ms()) / 1000
            if left <= 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("meter closed the link")
                self.buf += data

    def close(self):
        self.sock.close()


# --- route table -------------------------------------------------------------------------------


@dataclass
class Node:
    aca: bytes
    path: list  # repeater ACAs, master -> node (not including the node)
    hop_snr: list  # SNR (dB) of every link of the path as reported by the receiving meter
    hop_sig: list
    found_ms: int = 0
    found_via: str = "direct"
    status: str | None = None  # hex of the status word, or "no answer" / "nack <code>"
    read_snr: float | None = None
    reqaddr_rounds: int = 0
    auth_status: dict | None = None  # authenticated status word: {"word", "flags"} or {"error"}
    clock_step_s: int | str | None = None  # step the time-sync made, or the error
    import_wh: int | str | None = None  # active_import_wh (0x0400) read with the read key

    @property
    def hops(self):
        return len(self.path) + 1

    @property
    def path_snr(self):
        """Bottleneck SNR of the path (None when any link's metric is unknown)."""
        v = [s for s in self.hop_snr if s is not None]
        return min(v) if v and len(v) == len(self.hop_snr) else None

    def as_dict(self):
        return {
            "aca": self.aca.hex(),
            "path": [p.hex() for p in self.path],
            "hops": self.hops,
            "hop_snr_db": self.hop_snr,
            "hop_sig_dbuv": self.hop_sig,
            "path_snr_db": self.path_snr,
            "found_ms": self.found_ms,
            "found_via": self.found_via,
            "status": self.status,
            "reqaddr_rounds": self.reqaddr_rounds,
            "auth_status": self.auth_status,
            "clock_step_s": self.clock_step_s,
            "import_wh": self.import_wh,
        }


def _metric_snr(e: mm.AddrEntry):
    return e.snr_db


# --- the master ----------------------------------------------------------------------------------


@dataclass
class Options:
    retries: int = 2
    empty_rounds: int = 2  # direct ADDRESS.REQ rounds without news before moving on
    reqaddr_empty_rounds: int = 1
    tel_ms: int = mm.TEL_MS
    tc_ms: int = mm.TC_MS
    add_ms: int = mm.ADD_MS
    margin_ms: int = 200  # our own allowance on top of the formula
    first_disc: int = mm.DISC_RC2
    max_rounds: int = 50
    read_status: bool = True
    reqaddr: bool = True


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    answers: int = 0
    ignored: int = 0
    bad_frames: int = 0
    address_rounds: int = 0
    reqaddr_rounds: int = 0
    silenced: int = 0
    silence_failed: int = 0
    log: list = field(default_factory=list)


class Concentrator:
    def __init__(self, link, aca=DEFAULT_ACA, opts=None, progress=None):
        self.link = link
        self.aca = aca
        self.o = opts or Options()
        self.nodes: dict[bytes, Node] = {}
        self.order: list[bytes] = []
        self.stats = Stats()
        self.tag = 0
        self.progress = progress or (lambda kind, **kw: None)
        self.discovery_ms = None
        self.read_ms = None
        self.secure_ms = None

    # --- one exchange ----------------------------------------------------------------------------

    def _next_tag(self):
        self.tag = (self.tag + 1) & 7
        return self.tag

    def _timeout(self, frame: mm.Frame, req_len, extra=0):
        o = self.o
        t = mm.response_timeout_ms(
            frame.disc, len(frame.route), frame.esize, req_len, o.tel_ms, o.tc_ms, o.add_ms
        )
        return t + extra + o.margin_ms

    def _matches(self, ans: mm.Frame, req: mm.Frame, dest):
        if not ans.up or ans.hop != 1 or ans.tag != req.tag or ans.dsap != req.dsap:
            return False
        if [bytes(r) for r in ans.route] != [bytes(r) for r in req.route]:
            return False
        return dest == mm.BROADCAST or ans.addr == dest

    def exchange(
        self, dest, route, disc, dsap, lsdu, multi=False, extra_ms=0, retries=None, ecc=0
    ):
        """Send a request; return the list of answer LSDU frames (multi: all within the window,
        no retry) or [first answer] / [] after retries. A retry resends the same LSDU (only the
        exchange tag changes), so an authenticated retry is the byte-identical repeat the meter
        answers from its cache."""
        retries = self.o.retries if retries is None else retries
        route = [bytes(r) for r in route]
        for attempt in range(retries + 1):
            req = mm.Frame(
                addr=dest,
                lsdu=lsdu,
                disc=disc,
                route=route,
                tag=self._next_tag(),
                hop=0,
                poll=mm.disc_class(disc) != "S",
                dsap=dsap,
                ecc=ecc,
            )
            data = req.encode()
            start = self.link.now_ms()
            self.stats.requests += 1
            if attempt:
                self.stats.retries += 1
            self.link.send(data)
            if mm.disc_class(disc) == "S":
                return []
            deadline = start + self._timeout(req, len(data), extra_ms)
            got = []
            while True:
                r = self.link.recv(deadline)
                if r is None:
                    break
                raw, info = r
                try:
                    ans = mm.decode(raw)
                except mm.FrameError:
                    self.stats.bad_frames += 1
                    continue
                if not self._matches(ans, req, dest):
                    self.stats.ignored += 1
                    continue
                self.stats.answers += 1
                got.append((ans, info))
                if not multi:
                    return got
            if multi:
                return got
            self.stats.timeouts += 1
        return []

    # --- network management ----------------------------------------------------------------

    def _silence(self, node: Node):
        res = self.exchange(node.aca, node.path, mm.DISC_RA1, mm.DSAP_NM, mm.tct_set(1))
        ok = bool(res) and res[0][0].attr == mm.NACK_RESP and res[0][0].apdu[:1] == b"\x00"
        if ok:
            self.stats.silenced += 1
        else:
            self.stats.silence_failed += 1
        return ok

    def _add(self, aca, path, hop_snr, hop_sig, via):
        node = Node(aca, list(path), list(hop_snr), list(hop_sig), self.link.now_ms(), via)
        self.nodes[aca] = node
        self.order.append(aca)
        self.progress("found", node=node, total=len(self.nodes))
        return node

    def _direct_rounds(self):
        disc = self.o.first_disc
        empty = 0
        rounds = 0
        while empty < self.o.empty_rounds and rounds < self.o.max_rounds:
            rounds += 1
            self.stats.address_rounds += 1
            got = self.exchange(mm.BROADCAST, [], disc, mm.DSAP_NM, mm.address_req(), multi=True)
            new = []
            for ans, _info in got:
                try:
                    e = mm.parse_address_resp(ans.lsdu)
                except ValueError:
                    self.stats.bad_frames += 1
                    continue
                if e.aca in self.nodes or e.aca == self.aca:
                    continue
                new.append(self._add(e.aca, [], [_metric_snr(e)], [e.sig_dbuv], "address.req"))
            for n in new:
                self._silence(n)
            self.progress("round", what="ADDRESS.REQ", new=len(new), slots=mm.rc_slots(disc))
            empty = 0 if new else empty + 1
            if len(got) * 4 >= mm.rc_slots(disc) and disc < mm.DISC_RC4:
                disc += 1  # crowded: more slots next time

    def _reqaddr_via(self, node: Node):
        """REQADDR.REQ rounds through node until one brings nothing new. Returns new nodes."""
        found = []
        empty = 0
        extra = mm.reqaddr_round_ms(self.o.tel_ms, self.o.tc_ms, self.o.add_ms)
        while empty < self.o.reqaddr_empty_rounds:
            self.stats.reqaddr_rounds += 1
            node.reqaddr_rounds += 1
            res = self.exchange(
                node.aca, node.path, mm.DISC_RA3, mm.DSAP_NM, mm.reqaddr_req(), extra_ms=extra
            )
            if not res:
                self.progress("round", what="REQADDR", via=node.aca, new=0, failed=True)
                break
            try:
                entries = mm.parse_reqaddr_resp(res[0][0].lsdu)
            except ValueError:
                self.stats.bad_frames += 1
                break
            new = []
            for e in entries:
                if e.aca in self.nodes or e.aca == self.aca:
                    continue
                new.append(
                    self._add(
                        e.aca,
                        node.path + [node.aca],
                        node.hop_snr + [_metric_snr(e)],
                        node.hop_sig + [e.sig_dbuv],
                        "reqaddr:" + node.aca.hex(),
                    )
                )
            for n in new:
                self._silence(n)
            found += new
            self.progress("round", what="REQADDR", via=node.aca, new=len(new))
            empty = 0 if new else empty + 1
        return found

    @staticmethod
    def _rank(n: Node):
        """BFS order: fewer hops first, then the stronger path (bottleneck SNR), then ACA."""
        s = n.path_snr
        return (n.hops, -(s if s is not None else -1e9), n.aca)

    def discover(self):
        t0 = self.link.now_ms()
        for _ in range(2):
            self.exchange(mm.BROADCAST, [], mm.DISC_S, mm.DSAP_NM, mm.tct_set(0xFF))
        self._direct_rounds()
        if self.o.reqaddr:
            done = set()
            while True:
                todo = [
                    n for a, n in self.nodes.items() if a not in done and len(n.path) < MAX_ROUTE
                ]
                if not todo:
                    break
                node = min(todo, key=self._rank)
                done.add(node.aca)
                self._reqaddr_via(node)
        self.discovery_ms = self.link.now_ms() - t0
        return self.nodes

    # --- application ----------------------------------------------------------------------------

    def read_status(self, node: Node):
        lsdu = bytes([mm.READ_REQ, 0x00, 0x3F])
        res = self.exchange(node.aca, node.path, mm.DISC_RA1, mm.DSAP_APP, lsdu)
        if not res:
            node.status = "no answer"
        else:
            ans, info = res[0]
            if ans.attr == mm.READ_RESP:
                node.status = ans.apdu.hex()
            elif ans.attr == mm.NACK_A:
                node.status = "nack %d" % (ans.apdu[0] if ans.apdu else -1)
            else:
                node.status = "attr %d" % ans.attr
            node.read_snr = info.snr
        self.progress("read", node=node)
        return node.status

    def read_all(self):
        t0 = self.link.now_ms()
        for aca in self.order:
            self.read_status(self.nodes[aca])
        self.read_ms = self.link.now_ms() - t0

    def secure_all(self, keys, clock=ref.wall_seconds, state=None, regs=None, energy=False):
        """Every node: read the status word authenticated (ECC 1, read key) and set its clock
        (COMMAND clock_set, ECC 5, write key) to clock() (seconds since 2000 UTC; the unix_sim
        meters keep the host's wall clock, so the default is the host's clock too); with
        `energy`, read its active import register (0x0400, read key) as well."""
        t0 = self.link.now_ms()
        state = state or State(None)
        regs = regs or RegisterTable.load()
        for aca in self.order:
            node = self.nodes[aca]
            s = MeterSession(self, aca, node.path, keys.for_meter(aca), state, regs=regs)
            try:
                node.auth_status = s.status(ref.ECC_CTR_READ)
            except (NoAnswer, Refused, ref.SmitpError) as e:
                node.auth_status = {"error": str(e)}
            try:
                node.clock_step_s = s.time_sync(clock())
            except (NoAnswer, Refused, ref.SmitpError, KeyError) as e:
                node.clock_step_s = f"error: {e}"
            if energy:
                try:
                    v = s.read("active_import_wh", ref.ECC_CTR_READ)
                    node.import_wh = int.from_bytes(v, "big")
                except (NoAnswer, Refused, ref.SmitpError) as e:
                    node.import_wh = f"error: {e}"
            self.progress("read", node=node)
        self.secure_ms = self.link.now_ms() - t0

    def result(self):
        return {
            "concentrator": self.aca.hex(),
            "simulated_time": getattr(self.link, "simulated", False),
            "discovery_ms": self.discovery_ms,
            "read_ms": self.read_ms,
            "secure_ms": self.secure_ms,
            "frames_sent": self.link.frames_tx,
            "stats": {k: v for k, v in self.stats.__dict__.items() if k != "log"},
            "nodes": [self.nodes[a].as_dict() for a in self.order],
        }


# --- CLI -----------------------------------------------------------------------------------------


class ProgressBar:
    """A one-line progress bar on stderr: nodes found / expected, current activity."""

    def __init__(self, expected=None, stream=sys.stderr, enabled=True):
        self.expected = expected
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self.found = 0
        self.read = 0
        self.note = ""

    def __call__(self, event, **kw):
        if event == "found":
            self.found = kw["total"]
        elif event == "read":
            self.read += 1
        elif event == "round":
            via = kw.get("via")
            self.note = f"{kw['what']}{' via ' + via.hex() if via else ''}: +{kw.get('new', 0)}"
        self.draw()

    def draw(self):
        if not self.enabled:
            return
        total = self.expected or max(self.found, 1)
        done = self.read if self.read else self.found
        width = 30
        fill = min(width, int(width * done / total)) if total else 0
        phase = "reading" if self.read else "discovery"
        line = (
            f"\r[{'#' * fill}{'.' * (width - fill)}] {phase} {done}/{total}  {self.note[:40]:40}"
        )
        self.stream.write(line)
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")


def _flags_cell(hexword, regs):
    """Decoded status-word flags for the table ('-' = none set); other texts unchanged."""
    try:
        word = bytes.fromhex(hexword)
    except (TypeError, ValueError):
        return str(hexword)
    return (",".join(regs.status_flags(word)) or "-") if len(word) == 8 else hexword


def _auth_cell(st, regs):
    if st is None:
        return "?"
    return _flags_cell(st["word"], regs) if "word" in st else "error: " + st["error"][:40]


def table(result, names=None, regs=None):
    names = names or {}
    regs = regs or RegisterTable.load()
    nodes = result["nodes"]
    secured = any(n.get("auth_status") is not None for n in nodes)
    head = ["meter", "hops", "path", "signal dBuV", "SNR dB", "status (clear)"]
    energy = any(n.get("import_wh") is not None for n in nodes)
    if secured:
        head += ["status (authenticated)", "clock step s"]
    if energy:
        head += ["A+ Wh"]
    rows = [tuple(head)]
    for n in nodes:
        label = names.get(n["aca"], n["aca"])
        path = " > ".join(names.get(p, p) for p in n["path"]) or "-"
        sig = n["hop_sig_dbuv"][-1]
        snr = n["path_snr_db"]
        row = [
            label,
            str(n["hops"]),
            path,
            "?" if sig is None else f"{sig:.0f}",
            "?" if snr is None else f"{snr:.1f}",
            _flags_cell(n["status"], regs),
        ]
        if secured:
            step = n.get("clock_step_s")
            row += [_auth_cell(n.get("auth_status"), regs), str(step)[:48]]
        if energy:
            row.append(str(n.get("import_wh"))[:48])
        rows.append(tuple(row))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows)


def build_options(a):
    return Options(
        retries=a.retries,
        empty_rounds=a.empty_rounds,
        tel_ms=a.tel_ms,
        tc_ms=a.tc_ms,
        add_ms=a.add_ms,
        read_status=not a.no_read,
        reqaddr=not a.no_reqaddr,
    )


def add_arguments(ap):
    ap.add_argument("--retries", type=int, default=2)
    ap.add_argument("--empty-rounds", type=int, default=2)
    ap.add_argument("--tel-ms", type=int, default=mm.TEL_MS)
    ap.add_argument("--tc-ms", type=int, default=mm.TC_MS)
    ap.add_argument("--add-ms", type=int, default=mm.ADD_MS)
    ap.add_argument("--no-read", action="store_true", help="skip reading status words")
    ap.add_argument("--no-reqaddr", action="store_true", help="direct neighbours only")


def _discover_cli(a, link, aca):
    bar = ProgressBar(a.expect)
    c = Concentrator(link, aca, build_options(a), bar)
    wall = time.monotonic()
    try:
        c.discover()
        if c.o.read_status:
            c.read_all()
    finally:
        bar.close()
    res = c.result()
    res["wall_s"] = round(time.monotonic() - wall, 3)
    topo = json.loads(Path(a.topology).read_text()) if a.topology else None
    names = {n["aca"]: n["id"] for n in topo["nodes"]} if topo else {}
    if not a.json:
        print(table(res, names))
        unit = "simulated" if link.simulated else "real"
        print(
            f"{len(res['nodes'])} meters; discovery {res['discovery_ms'] / 1000:.1f} s {unit}, "
            f"wall {res['wall_s']:.1f} s, {res['frames_sent']} frames sent by the concentrator"
        )
    if a.png:
        from tools.netmap import draw

        draw(res, a.png, topo)
    return c, res


def probe_direct(c: Concentrator):
    """The ACA of the one meter on a direct link: ADDRESS.REQ to broadcast under RA1 with
    TCR 1, which every TCT (1..255) passes, so a meter silenced by a discovery still answers."""
    res = c.exchange(mm.BROADCAST, [], mm.DISC_RA1, mm.DSAP_NM, mm.address_req(tcr=1))
    if not res:
        raise NoAnswer("no meter answered ADDRESS.REQ on the direct link")
    return mm.parse_address_resp(res[0][0].lsdu).aca


def _targets(a, c, state):
    """[(aca, route)] the subcommand works on."""
    if a.meter:
        aca = bytes.fromhex(a.meter)
        if a.route is not None:
            route = [bytes.fromhex(x) for x in a.route.split(",") if x]
        elif a.direct:
            route = []
        else:
            route = state.route(aca)
            if route is None:
                c.discover()
                node = c.nodes.get(aca)
                if node is None:
                    raise NoAnswer(f"meter {aca.hex()} not found by discovery")
                route = node.path
        state.set_route(aca, route)
        return [(aca, route)]
    if a.direct:
        return [(probe_direct(c), [])]
    c.discover()
    for n in c.nodes.values():
        state.set_route(n.aca, n.path)
    return [(n.aca, n.path) for n in (c.nodes[x] for x in c.order)]


def _ecc(a, write):
    if a.ecc is not None:
        return a.ecc
    if not a.auth:
        return 0
    return ref.ECC_CTR_WRITE if write else ref.ECC_CTR_READ


def _reg_out(s: MeterSession, name, value: bytes):
    from tools.dcu_registers import decode_value

    r = s.regs.find(name)
    return {
        "reg": r.name,
        "id": "0x%04x" % r.id,
        "hex": value.hex(),
        "value": decode_value(r, value),
    }


def run_command(a, s: MeterSession) -> dict:
    """One subcommand on one meter; returns its JSON-able result."""
    from tools.dcu_registers import encode_value, parse_time

    cmd = a.cmd
    if cmd == "status":
        return s.status(_ecc(a, False))
    if cmd == "read":
        return {"values": [_reg_out(s, r, s.read(r, _ecc(a, False))) for r in a.regs]}
    if cmd == "write":
        r = s.regs.find(a.reg)
        at = parse_time(a.at) if a.at else None
        s.write(a.reg, encode_value(r, a.value, s.regs), _ecc(a, True), at)
        return {"written": r.name} if at is None else {"scheduled": r.name, "at": at}
    if cmd == "reset":
        if a.target == "all":
            s.reset(ecc=_ecc(a, True))
        elif a.target.startswith("group:"):
            s.reset(group=int(a.target[6:], 0), ecc=_ecc(a, True))
        else:
            s.reset(a.target, ecc=_ecc(a, True))
        return {"reset": a.target}
    if cmd == "readtab":
        sel = ref.SEL_TIME if a.by_time else (ref.SEL_RNO if a.to is not None else None)
        to = 0xFFFFFFFF if a.to is None else a.to
        if a.locate:
            return s.buff_select(a.reg, sel or ref.SEL_RNO, a.frm, to, _ecc(a, False))
        got = s.readtab(a.reg, a.frm, _ecc(a, False), sel, a.frm, to)
        return dict(got, records=[x.hex() for x in got["records"]])
    if cmd == "writetab":
        at = parse_time(a.at) if a.at else None
        n = s.writetab(a.reg, [bytes.fromhex(x) for x in a.records], _ecc(a, True), at)
        return {"records_written": n} if at is None else {"records_scheduled": n, "at": at}
    if cmd == "gettab":
        return {"tab": a.tab, "values": s.gettab(a.tab, _ecc(a, False)).hex()}
    if cmd == "settab":
        s.settab(a.tab, a.regs, _ecc(a, True))
        return {"tab": a.tab, "regs": a.regs}
    if cmd == "command":
        code = int(a.name, 0) if a.name[0].isdigit() else a.name
        s.command(code, *[int(x, 0) for x in a.args], ecc=_ecc(a, True))
        return {"command": a.name}
    if cmd == "relay":
        from tools.dcu_cutoff import relay

        return relay(s, a.action)
    if cmd == "display":  # docs/display.md §5
        if a.clear:
            s.command("display_special_clear", ecc=_ecc(a, True))
            return {"display": "cleared"}
        if not 0 < len(a.text) <= 16 or not all(" " <= ch <= "~" for ch in a.text):
            raise ValueError("display text: 1..16 printable ASCII characters")
        text = a.text.encode("ascii")
        s.command("display_special", a.seconds, text.ljust(16), ecc=_ecc(a, True))
        return {"display": a.text, "seconds": a.seconds}
    if cmd == "challenge":
        return {"lmon": s.challenge()}
    if cmd == "time-sync":
        now = parse_time(a.time) if a.time else int(time.time()) - EPOCH_2000
        return {"time": now, "step_s": s.time_sync(now, _ecc(a, True), a.adjust)}
    if cmd in METER_DATA:
        return _meter_data(a, s)
    if cmd == "keys":
        new_w = bytes.fromhex(a.new_write) if a.new_write else None
        new_r = bytes.fromhex(a.new_read) if a.new_read else None
        try:
            s.set_keys(new_w, new_r, _ecc(a, True))
        finally:  # whatever the meter accepted (the read key may be new even if write failed)
            if a.auth and s.master.keys is not None:
                KeyFile.store(a.auth, s.aca, s.master.keys)
        return {"keys_changed": [k for k, v in (("write", new_w), ("read", new_r)) if v]}
    raise ValueError(cmd)


# metering data through the application layer (docs/concentrator.md, "Metering data")
METER_DATA = ("energy", "profile", "billing")
_PROFILES = {"load": "load_profile", "measurand": "measurand_profile", "daily": "daily_snapshot"}


def _group_values(s: MeterSession, groups, ecc):
    """READ of every readable non-table register of the groups, decoded."""
    out = []
    for r in sorted(s.regs.regs, key=lambda r: r.id):
        if r.id >> 8 in groups and r.extra.get("type") not in ("log", "tab"):
            out.append(_reg_out(s, r.name, s.read(r.name, ecc)))
    return out


def _table(s: MeterSession, name, ecc, frm=None, to=None):
    from tools.dcu_profiles import decode_records

    if frm is None and to is None:
        got = s.readtab(name, 0, ecc)
    else:
        got = s.readtab(name, 0, ecc, ref.SEL_TIME, frm or 0, 0xFFFFFFFF if to is None else to)
    return {
        "table": name,
        "first": got["first"],
        "end": got["end"],
        "records": decode_records(name, got["records"]),
    }


def _meter_data(a, s: MeterSession) -> dict:
    ecc = _ecc(a, False)
    if a.cmd == "energy":
        return {"values": _group_values(s, (0x04,), ecc)}
    if a.cmd == "profile":
        return _table(s, _PROFILES[a.kind], ecc, a.frm, a.to)
    return {  # billing: the stored sets, then the current period and its maximum demand
        "sets": _table(s, "billing_data", ecc)["records"],
        "values": _group_values(s, (0x06, 0x15, 0x16), ecc),
    }


def _human_records(aca, recs):
    lines = []
    for r in recs:
        cells = [f"{k} {v}" for k, v in r.items() if k not in ("t", "status")]
        lines.append(f"{aca}: " + ", ".join(cells))
    return lines


def _human(aca, out):
    if "error" in out:
        return f"{aca}: {out['error']}"
    if "records" in out or "sets" in out:
        lines = _human_records(aca, out.get("records") or out.get("sets") or [])
        lines += [f"{aca}: {v['reg']} ({v['id']}) = {v['value']}" for v in out.get("values", [])]
        if "records" in out:
            lines.append(f"{aca}: {out['table']} records {out['first']}..{out['end'] - 1}")
        return "\n".join(lines)
    if "flags" in out:
        return f"{aca}: status {out['word']} flags {', '.join(out['flags']) or 'none'}"
    if "values" in out and isinstance(out["values"], list):
        return "\n".join(f"{aca}: {v['reg']} ({v['id']}) = {v['value']}" for v in out["values"])
    skip = () if "lmon" in out and len(out) <= 3 else ("lmon",)  # challenge: LMON is the result
    return f"{aca}: " + ", ".join(f"{k} {v}" for k, v in out.items() if k not in skip)


def build_parser():
    ap = argparse.ArgumentParser(description="M&M concentrator: discovery, SMITP requests")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--medium", help="host:port of tools/medium.py (join as the master node)")
    g.add_argument("--direct", help="host:port of one meter's TCP link (plc_listen)")
    ap.add_argument("--aca", default=DEFAULT_ACA.hex(), help="the concentrator's own ACA")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--out", help="also write the JSON result to this file")
    ap.add_argument("--png", help="draw the discovered network here")
    ap.add_argument("--topology", help="topology JSON (names and positions for the map)")
    ap.add_argument("--expect", type=int, default=None, help="meters expected (progress bar)")
    ap.add_argument("--meter", help="target meter ACA (hex); default: every meter found")
    ap.add_argument("--route", help="repeater ACAs master->meter, comma separated")
    ap.add_argument("--auth", metavar="KEYFILE", help="authenticate with the keys in this file")
    ap.add_argument("--ecc", type=int, choices=ref.VALID_ECC, help="override the ECC")
    ap.add_argument("--state", default=str(DEFAULT_STATE), help="LMON/route state file")
    ap.add_argument(
        "--bnode", action="store_true", help="RB3: for the meter's B-Node (ACK/NACK B-node)"
    )
    add_arguments(ap)
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.add_parser("discover", help="find every meter and read its status word (default)")
    sub.add_parser("status", help="read and decode the status word")
    p = sub.add_parser("read", help="READ registers by name or id")
    p.add_argument("regs", nargs="+")
    p = sub.add_parser("write", help="WRITE one register (value by type, or hex:...)")
    p.add_argument("reg")
    p.add_argument("value")
    p.add_argument("--at", help="SETIC: activate at this time (seconds since 2000 or ISO)")
    p = sub.add_parser("reset", help="RESETTAB: REG, group:0xGG or all to the defaults")
    p.add_argument("target")
    p = sub.add_parser("readtab", help="read a table (READTAB, or READTAB-sel with --to)")
    p.add_argument("reg")
    p.add_argument("--from", dest="frm", type=int, default=0, help="first RNO (or TIME)")
    p.add_argument("--to", type=int, default=None, help="last RNO (or TIME): selective read")
    p.add_argument("--by-time", action="store_true", help="--from/--to are TIMEs")
    p.add_argument("--locate", action="store_true", help="BUFF_SELECT: the range, no records")
    p = sub.add_parser("writetab", help="program a parameter table (records in hex)")
    p.add_argument("reg")
    p.add_argument("records", nargs="+")
    p.add_argument("--at", help="WRITETABIC: activate at this time (seconds since 2000 or ISO)")
    p = sub.add_parser("gettab", help="read custom table TAB (1..4)")
    p.add_argument("tab", type=int)
    p = sub.add_parser("settab", help="define custom table TAB as a list of registers")
    p.add_argument("tab", type=int)
    p.add_argument("regs", nargs="*")
    p = sub.add_parser("command", help="COMMAND by name or code, integer arguments")
    p.add_argument("name")
    p.add_argument("args", nargs="*")
    sub.add_parser("energy", help="read and decode the energy registers (group 0x04)")
    p = sub.add_parser("profile", help="read and decode a profile (docs/profiles.md)")
    p.add_argument("kind", nargs="?", default="load", choices=sorted(_PROFILES))
    p.add_argument("--from", dest="frm", type=int, default=None, help="first TIME (READTAB-sel)")
    p.add_argument("--to", type=int, default=None, help="last TIME (READTAB-sel)")
    sub.add_parser("billing", help="read billing data sets, period registers, maximum demand")
    p = sub.add_parser("relay", help="cut-off relay: disconnect, enable, reconnect or show")
    p.add_argument("action", choices=("disconnect", "enable", "reconnect", "show"))
    p = sub.add_parser("display", help="special message on the meter display (COMMAND 0x20)")
    p.add_argument("text", nargs="?", default="", help="1..16 printable ASCII characters")
    p.add_argument("--seconds", type=int, default=60, help="how long it stays (1..3600)")
    p.add_argument("--clear", action="store_true", help="end the message now (COMMAND 0x21)")
    sub.add_parser("challenge", help="CHALLENGE: resynchronise LMON")
    p = sub.add_parser("time-sync", help="set the meter clock (default: now)")
    p.add_argument("--time", help="seconds since 2000 or ISO UTC date-time")
    p.add_argument("--adjust", action="store_true", help="clock_adjust by the difference")
    p = sub.add_parser(
        "keys", help="change keys under the current write key; the --auth file is updated"
    )
    p.add_argument("--new-write", help="32 hex digits")
    p.add_argument("--new-read", help="32 hex digits")
    p = sub.add_parser("upgrade", help="software download of IMAGE (docs/download.md)")
    p.add_argument("image", help="packed image (tools/dl_pack.py)")
    p.add_argument("--key-download", required=True, help="download key, 32 hex digits")
    p.add_argument("--bs", type=int, default=96, help="bytes per block (16..112, x8)")
    p.add_argument("--at", help="activation time (seconds since 2000 or ISO); default at once")
    p.add_argument("--gap-ms", type=int, default=0, help="idle after each broadcast block")
    p.add_argument("--wait-s", type=float, default=0, help="wait before reading the versions")
    return ap


def _upgrade(a, c, state, keys, regs):
    """`upgrade`: every target at once (broadcast, gaps, activation, versions); a table."""
    from tools.dcu_registers import parse_time
    from tools.dcu_upgrade import Upgrade, table

    image = Path(a.image).read_bytes()
    sessions = []
    for m, route in _targets(a, c, state):
        k = keys.for_meter(m) if keys else None
        sessions.append(MeterSession(c, m, route, k, state, regs=regs))
    bar = UpgradeBar(len(sessions))
    up = Upgrade(c, sessions, image, bytes.fromhex(a.key_download), a.bs, a.gap_ms, progress=bar)

    def wait_boot():
        end = c.link.now_ms() + int(a.wait_s * 1000)
        while c.link.now_ms() < end and c.link.recv(end) is not None:
            pass

    res = up.run(parse_time(a.at) if a.at else 0, wait_boot)
    bar.close()
    if not a.json:
        print(table(res, up.version))
    for r in res.values():
        r["frames"] = up.frames
        r["passes"] = up.passes  # blocks per broadcast pass (docs/download.md §5.4)
    return res, sum(1 for r in res.values() if r.get("version") != up.version)


class UpgradeBar:
    """Upgrade progress on stderr: blocks broadcast, then meters completed."""

    def __init__(self, meters, stream=sys.stderr):
        self.meters = meters
        self.stream = stream
        self.enabled = stream.isatty()
        self.filled = 0

    def __call__(self, event, **kw):
        if not self.enabled:
            return
        if event == "block":
            done, total, what = kw["n"], kw["total"], "broadcast"
        elif event == "fill":
            self.filled += 1
            done, total, what = self.filled, self.meters, f"gaps {kw['missing']}"
        else:
            return
        fill = int(30 * done / max(total, 1))
        self.stream.write(f"\r[{'#' * fill}{'.' * (30 - fill)}] {what} {done}/{total}   ")
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.cmd = a.cmd or "discover"
    host, port = (a.medium or a.direct).rsplit(":", 1)
    aca = bytes.fromhex(a.aca)
    try:
        keys = KeyFile.load(a.auth) if a.auth else None
    except (OSError, KeyFileError) as e:
        print(f"concentrator: key file: {e}", file=sys.stderr)
        return 2
    try:
        link = MediumLink(host, int(port), aca) if a.medium else DirectLink(host, int(port))
    except OSError as e:
        print(f"concentrator: cannot reach {host}:{port}: {e}", file=sys.stderr)
        return 2
    results, failed = {}, 0
    try:
        if a.cmd == "discover":
            c, res = _discover_cli(a, link, aca)
            results = res
            state = State(a.state)
            for n in c.nodes.values():  # later commands find the meters without a discovery
                state.set_route(n.aca, n.path)
        elif a.cmd == "upgrade":
            state = State(a.state)
            c = Concentrator(link, aca, build_options(a))
            results, failed = _upgrade(a, c, state, keys, RegisterTable.load())
        else:
            state = State(a.state)
            c = Concentrator(link, aca, build_options(a))
            regs = RegisterTable.load()
            for m, route in _targets(a, c, state):
                k = keys.for_meter(m) if keys else None
                disc = mm.DISC_RB3 if a.bnode else mm.DISC_RA7
                s = MeterSession(c, m, route, k, state, disc=disc, regs=regs)
                try:
                    out = run_command(a, s)
                except (NoAnswer, Refused, ref.SmitpError, KeyError, ValueError) as e:
                    out = {"error": str(e)}
                    failed += 1
                out["lmon"] = s.lmon
                out["authenticated"] = bool(_ecc(a, a.cmd not in ("status", "read")))
                results[m.hex()] = out
                if not a.json:
                    print(_human(m.hex(), out))
    except (ConnectionError, OSError) as e:
        print(f"concentrator: link lost: {e}", file=sys.stderr)
        return 3
    except KeyFileError as e:
        print(f"concentrator: {e}", file=sys.stderr)
        return 2
    finally:
        link.close()
    if a.json:
        print(json.dumps(results, indent=1))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(results, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
