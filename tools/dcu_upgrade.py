"""The concentrator's software upgrade (docs/download.md §1, §5, §6; `concentrator.py upgrade`).

    up = Upgrade(conc, sessions, image, download_key, bs=96, gap_ms=0, progress=bar)
    table = up.run(activate_at=0, wait_boot=None)

1. download_start to every meter at once: the broadcast start (REPROG_BROADCAST op 03 under the
   download key, §5.5) twice along every distinct route; the relays of the flood are read
   (status) until their slot is erased; one that missed the start gets the sealed COMMAND 0x18;
2. the flood (§5.4): download_relay (COMMAND 0x1B) to every repeater of the targets' routes,
   then every block once by REPROG_BROADCAST (S discipline, no answer) without route, each
   relay level sending it again in its slot (3 slots per block, plus `gap_ms` idle for normal
   reads), then the union of the blocks the meters' bitmaps still lack once more; when a route
   repeater is no target, every block along each distinct route instead;
   the status pass after a flood pass also finds the meters without the session: they get
   the sealed COMMAND 0x18 and the next pass carries every block;
3. per meter, the missing-block bitmap (REPROG_LOCAL status, paged) and the gaps by
   REPROG_LOCAL through its route, until it reports READY (or refused, or `rounds` pass);
   meters the last status pass found READY are not read again;
4. the broadcast download_activate (op 04, §5.5) at `activate_at` (0 = at once: every copy
   counts down to one moment after the last copy), twice along every distinct route;
5. `wait_boot()` (the caller restarts or waits for the meters), then READ running_image
   (0x1006) of each meter — which is also the concentrator the trial image must hear; a meter
   still on the old version, READY and without an activation time missed the broadcast: it
   gets the sealed COMMAND 0x19 (`late`; the caller waits and checks those again).
Every LSDU comes from tools/dl_pack.py and tools/smitp_ref.py (no firmware code).
"""

from __future__ import annotations

import struct

from tools import dl_pack, dl_plan
from tools import mm_frame as mm
from tools import smitp_ref as ref
from tools.dcu_session import NoAnswer, Refused

RUNNING_IMAGE = 0x1006
DOWNLOAD_STATE = 0x1000
NEIGHBOURS = 0x0205  # what a meter hears (docs/datalink.md §6.1)
MAC_HDR = 11  # frame bytes around the LSDU without route entries (docs/datalink.md §1)
RELAY_GUARD_MS = 40  # between a relay's source copy ending and its slot's end (2 x Tel)
DOWNLOAD_ACTIVATION = 0x1003
STATE_NAMES = dl_pack.STATES
RECEIVING, READY, REFUSED, ERASING = 1, 2, 3, 5
BCAST_COPIES = 2  # each broadcast start / activate goes out twice along every route
ERASE_POLL_MS = 1000  # between status reads of a relay still erasing its slot
# the longest slot erase (docs/download.md §3: ESP32 96 x 4 KiB at the W25Q32JV's 400 ms max,
# 38.4 s; F429 3 x 2 s): a relay still erasing after this is given up
ERASE_BOUND_MS = 40_000
ACT_MARGIN_MS = 2_000  # after the last activate copy, before the moment every meter resets


class Upgrade:
    def __init__(
        self,
        conc,
        sessions,
        image,
        key,
        bs=96,
        gap_ms=0,
        rounds=6,
        progress=None,
        between=None,
        every=50,
        max_passes=4,
    ):
        self.c = conc
        self.sessions = list(sessions)
        self.image = image
        self.key = key
        self.bs = bs
        self.gap_ms = gap_ms
        self.rounds = rounds
        self.progress = progress or (lambda *a, **k: None)
        self.iid = dl_pack.image_id(image)
        self.n = dl_pack.nblocks(len(image), bs)
        self.version = dl_pack.parse(image)["version"]
        self.frames = {
            "broadcast": 0,
            "bcast_cmd": 0,  # broadcast start / activate copies (§5.5)
            "local": 0,
            "status": 0,
            "command": 0,
            "read": 0,
        }
        # normal traffic during the flood: between() runs every `every` blocks, once the
        # relays are done with the last block (e.g. one meter read)
        self.between = between
        self.every = every
        self.max_passes = max_passes
        self.relays = 0  # download_relay commands that started a relay
        self.passes = []  # blocks per flood pass
        self.heard = {}  # meter -> {transmitter: (sig, snr)} (register 0x0205)
        self.plans = []  # per flood pass: slots per block, relays, colours per level
        self.when = 0  # activation time given to activate()
        self.ready = set()  # meters (ACA hex) a status answer showed READY for this image
        self.late = []  # sessions activated by the sealed COMMAND after the broadcast
        self.copies_ms = 0  # time spent sending broadcast start / activate copies
        self.erase_polls = 0  # status reads of a relay still erasing
        self.result = {s.aca.hex(): {"state": "?", "error": None} for s in self.sessions}

    def _fail(self, s, e):
        self.result[s.aca.hex()]["error"] = str(e)[:60]

    def _command(self, s, code, args=b""):
        self.frames["command"] += 1
        return s.call(ref.COMMAND_REQ, bytes([code]) + args, ref.ECC_CTR_WRITE)

    def start(self):
        """download_start for every meter at once (§5.5): the broadcast start twice along
        every distinct route. The flood's relays must hold the session before it: each is read
        until its slot is erased (sealed COMMAND 0x18 to one that missed the start); without
        a flood plan (a repeater is no target) every meter is, without relays the first. The
        neighbour tables the plan needs are read here (register 0x0205)."""
        lsdu = dl_pack.bcast_start_lsdu(self.key, self.image, self.bs, self.version)
        for _ in range(BCAST_COPIES):
            self._everywhere(lambda: lsdu)
        by_aca = {bytes(s.aca): s for s in self.sessions}
        need = list(self.sessions)
        if self.routes_relayable():  # the flood's relays (§5.6), from what the meters hear
            self.read_neighbours()
            need = [by_aca[r] for r in sorted(self.plan_for(self.sessions).relays)]
        # the other meters erase the same slot from the same copies: done when these are (no
        # relay: one meter stands for all); one still erasing drops the first blocks (NACK 27)
        need = need or self.sessions[:1]
        for s in need:
            try:
                self.opened(s)
            except (NoAnswer, Refused, ref.SmitpError, ValueError) as e:
                self._fail(s, e)
            self.progress("start", meter=s.aca)

    def _everywhere(self, lsdu):
        """A broadcast LSDU (`lsdu()` builds each copy) along every distinct route of the
        targets, deepest first, each repeater of a route repeating it (S discipline)."""
        routes = sorted(
            {tuple(bytes(r) for r in s.route) for s in self.sessions if not self._failed(s)},
            key=lambda r: (-len(r), r),
        )
        t0 = self.c.link.now_ms()
        for route in routes:
            frame = lsdu()
            self.c.exchange(mm.BROADCAST, list(route), mm.DISC_S, mm.DSAP_APP, frame)
            self.frames["bcast_cmd"] += 1
            self._idle(self._sweep_ms(route, len(frame)))
        self.copies_ms += self.c.link.now_ms() - t0

    def _sweep_ms(self, route, n):
        # the repeaters of a route send a copy each: let them finish before the next route
        air = mm.airtime_ms(n + MAC_HDR + 6 * len(route))
        return len(route) * (air + self.c.o.tel_ms + self.c.o.add_ms)

    def _ours(self, st):
        # the status answer lists blocks only for this image's session (§5.2: N = 0 otherwise)
        return st["n"] > 0 and st["state"] != 0

    def _probe(self, s):
        """One short status exchange: FROM = the last block, so the answer's bitmap is one
        byte (N > 0 only for this download's session, §5.2)."""
        lsdu = dl_pack.status_lsdu(self.iid, self.n - 1)
        res = self.c.exchange(s.aca, s.route, mm.DISC_RA7, mm.DSAP_APP, lsdu)
        self.frames["status"] += 1
        if not res:
            raise NoAnswer(f"meter {s.aca.hex()}: no status answer")
        return dl_pack.parse_status(res[0][0].lsdu)

    def opened(self, s):
        """The meter's status once it holds this download with its slot erased: a meter
        without it gets the sealed download_start; one erasing is read again every
        ERASE_POLL_MS up to ERASE_BOUND_MS (ValueError after)."""
        st = self._probe(s)
        if not self._ours(st) or st["state"] == REFUSED:
            self._command(s, 0x18, dl_pack.start_args(self.image, self.bs))
            st = self._probe(s)
        waited = 0
        while st["state"] == ERASING and waited < ERASE_BOUND_MS:
            self._idle(ERASE_POLL_MS)
            waited += ERASE_POLL_MS
            self.erase_polls += 1
            st = self._probe(s)
        if st["state"] not in (RECEIVING, READY):
            raise ValueError(f"no session: state {st['state']} after {waited} ms")
        return st

    def broadcast(self):
        """Every block to every target: one flood when every repeater of their routes is a
        target (it can relay), else once along each distinct route. The relays and their slots
        come from what the meters hear (register 0x0205, tools/dl_plan.py, §5.6). After each
        pass the bitmaps of the meters still incomplete; the union of their missing blocks goes
        out again, planned for those meters only, up to `max_passes`; the rest goes by
        REPROG_LOCAL (fill)."""
        if not self.routes_relayable():
            return self.broadcast_routes()
        todo, blocks, active = list(self.sessions), range(self.n), {}
        while True:
            p = self.plan_for(todo)
            self.plans.append({"period": p.period, "relays": len(p.relays), "colours": p.colours})
            # download_relay to every relay of this pass (it also forgets the block it relayed
            # last, which may be the first one of this pass); DELAY 0 to the others
            self.start_relays(p)
            self.stop_relays([r for r in active if r not in p.relays])
            active = p.relays
            self.flood(blocks, p)
            self.passes.append(len(blocks))
            missing, todo = self._missing(todo)
            if not missing or len(self.passes) >= self.max_passes:
                return
            blocks = sorted(missing)

    def _missing(self, sessions):
        """(union of the missing blocks, the meters missing any) of `sessions`."""
        union, left = set(), []
        for s in sessions:
            if self._failed(s):
                continue
            try:
                st, miss = self.status(s)
            except (NoAnswer, ValueError):
                left.append(s)  # unknown: read again after the next pass or before activation
                continue
            if not self._ours(st):  # missed both broadcast starts: the sealed one, every block
                try:
                    self._command(s, 0x18, dl_pack.start_args(self.image, self.bs))
                except (NoAnswer, Refused, ref.SmitpError) as e:
                    self._fail(s, e)
                    continue
                union.update(range(self.n))
                left.append(s)
            elif miss and st["state"] in (RECEIVING, ERASING):
                union.update(miss)
                left.append(s)
            elif st["state"] == READY:
                self.ready.add(s.aca.hex())
            self.progress("status", meter=s.aca)
        return union, left

    def routes_relayable(self):
        """Every repeater of the live targets' routes is a target (has a session to relay)."""
        live = [s for s in self.sessions if not self._failed(s)]
        targets = {bytes(s.aca) for s in live}
        return all(bytes(r) in targets for s in live for r in s.route)

    def read_neighbours(self):
        """Register 0x0205 of every target behind a repeater: what it hears (level-1 meters
        hear the concentrator; their tables are not needed)."""
        for s in self.sessions:
            if self._failed(s) or not s.route:
                continue
            try:
                self.frames["read"] += 1
                v = s.call(ref.READ_REQ, ref.read_req(NEIGHBOURS)).fields["value"]
                self.heard[bytes(s.aca)] = dl_plan.parse_neighbours(v)
            except (NoAnswer, Refused, ref.SmitpError, ValueError):
                pass  # served by its route parent (dl_plan)
            self.progress("neighbours", meter=s.aca)

    def plan_for(self, sessions):
        live = [s for s in self.sessions if not self._failed(s)]
        levels = {bytes(s.aca): len(s.route) + 1 for s in live}
        parents = {bytes(s.aca): bytes(s.route[-1]) if s.route else dl_plan.MASTER for s in live}
        need = {bytes(s.aca) for s in sessions if not self._failed(s)}
        return dl_plan.plan(levels, parents, self.heard, need)

    def slot_ms(self):
        """Slot of one relay transmission: its frame (one route entry) and a turnaround."""
        return self.air_ms(True) + RELAY_GUARD_MS

    def air_ms(self, relayed):
        """Airtime of a block frame: the concentrator's copy, or a relay's (one route entry)."""
        return mm.airtime_ms(12 + self.bs + MAC_HDR + (6 if relayed else 0))

    def start_relays(self, p):
        """COMMAND download_relay to each relay of plan p: relay the copy of its source, DELAY
        = from the end of that copy to the relay's own slot (§5.4, §5.6)."""
        by_aca = {bytes(s.aca): s for s in self.sessions}
        slot = self.slot_ms()
        for aca, (src, _off) in sorted(p.relays.items(), key=lambda x: x[1][1]):
            delay = p.delay_ms(aca, slot, self.air_ms(src != dl_plan.MASTER))
            try:
                self._command(by_aca[aca], 0x1B, dl_pack.relay_args(src, delay))
                self.relays += 1
            except (NoAnswer, Refused, ref.SmitpError) as e:
                self._fail(by_aca[aca], e)

    def stop_relays(self, acas):
        by_aca = {bytes(s.aca): s for s in self.sessions}
        for aca in acas:
            try:
                self._command(by_aca[aca], 0x1B, dl_pack.relay_args(dl_plan.MASTER, 0))
            except (NoAnswer, Refused, ref.SmitpError) as e:
                self._fail(by_aca[aca], e)

    def flood(self, blocks, p):
        """The concentrator sends block after block without route, one period of p.period
        slots each plus the idle gap left for normal reads; each relay sends it at its offset.
        Without relays (every target one hop away) only the gap: the link paces the frames."""
        relayed = bool(p.relays)
        period = (p.period * self.slot_ms() if relayed else 0) + self.gap_ms
        tail = p.last * self.slot_ms()
        blocks = list(blocks)
        for i, n in enumerate(blocks):
            t_next = self.c.link.now_ms() + period
            lsdu = dl_pack.block_lsdu(self.key, self.image, n, self.bs)
            self.c.exchange(mm.BROADCAST, [], mm.DISC_S, mm.DSAP_APP, lsdu)
            self.frames["broadcast"] += 1
            self._idle(t_next - self.c.link.now_ms())
            self.progress("block", n=i + 1, total=len(blocks))
            if self.between is not None and (i + 1) % self.every == 0:
                self._idle(tail)
                self.between()
        if blocks:  # the last block's relays finish
            self._idle(tail)

    def broadcast_routes(self):
        routes = sorted({tuple(s.route) for s in self.sessions if not self._failed(s)})
        self.passes = [self.n] * len(routes)
        for route in routes:
            for n in range(self.n):
                lsdu = dl_pack.block_lsdu(self.key, self.image, n, self.bs)
                self.c.exchange(mm.BROADCAST, list(route), mm.DISC_S, mm.DSAP_APP, lsdu)
                self.frames["broadcast"] += 1
                # each repeater of the route sends the block again: let them finish before the
                # next one (else it collides), then the idle gap left for normal reads
                air = mm.airtime_ms(len(lsdu) + MAC_HDR + 6 * len(route))
                self._idle(len(route) * (air + self.c.o.tel_ms + self.c.o.add_ms) + self.gap_ms)
                self.progress("block", n=n + 1, total=self.n)

    def _idle(self, ms):
        link = self.c.link
        end = link.now_ms() + ms
        while ms > 0 and link.now_ms() < end and link.recv(end) is not None:
            pass

    def _failed(self, s):
        return self.result[s.aca.hex()]["error"] is not None

    def status(self, s):
        """The meter's whole missing list (paged) and its last status answer."""
        missing, first = [], 0
        while True:
            res = self.c.exchange(
                s.aca, s.route, mm.DISC_RA7, mm.DSAP_APP, dl_pack.status_lsdu(self.iid, first)
            )
            self.frames["status"] += 1
            if not res:
                raise NoAnswer(f"meter {s.aca.hex()}: no status answer")
            st = dl_pack.parse_status(res[0][0].lsdu)
            missing += st["missing"]
            first = st["first"] + 8 * st["n"]
            if st["n"] == 0 or first >= st["total"] or st["state"] != 1:
                return st, missing
            if st["received"] + len(missing) >= st["total"]:
                return st, missing  # the pages so far hold every missing block

    def fill(self, s):
        for _ in range(self.rounds):
            st, missing = self.status(s)
            if st["state"] != 1 or not missing:
                return st
            for n in missing:
                lsdu = dl_pack.block_lsdu(self.key, self.image, n, self.bs, broadcast=False)
                self.c.exchange(s.aca, s.route, mm.DISC_RA7, mm.DSAP_APP, lsdu)
                self.frames["local"] += 1
            self.progress("fill", meter=s.aca, missing=len(missing))
        return self.status(s)[0]

    def activate(self, when=0):
        """Fill the gaps of every meter not known READY, then the broadcast activate (§5.5)
        twice along every route. With `when` 0 each copy carries the seconds left until one
        moment ACT_MARGIN_MS after the last copy, so no repeater resets while copies still
        pass through it; else the absolute time."""
        self.when = when
        ready = 0
        for s in sorted(self.sessions, key=lambda s: -len(s.route)):
            if self._failed(s):
                continue
            r = self.result[s.aca.hex()]
            try:
                if s.aca.hex() in self.ready:
                    st = {"state": READY}
                else:
                    st = self.fill(s)
                r["state"] = r["download"] = STATE_NAMES.get(st["state"], "?")
                if st["state"] == REFUSED:
                    r["error"] = f"refused, NACK {st['code']}"
                elif st["state"] != READY:
                    r["error"] = f"not ready ({r['state']})"
                else:
                    ready += 1
            except (NoAnswer, Refused, ref.SmitpError, ConnectionError, ValueError) as e:
                self._fail(s, e)
        if not ready:
            return
        if when:
            copy = lambda: dl_pack.bcast_activate_lsdu(self.key, self.iid, when)  # noqa: E731
        else:
            n = len(dl_pack.bcast_activate_lsdu(self.key, self.iid, 0))
            routes = {tuple(s.route) for s in self.sessions if not self._failed(s)}
            sweep = sum(mm.airtime_ms(n + MAC_HDR) + self._sweep_ms(r, n) for r in routes)
            at = self.c.link.now_ms() + BCAST_COPIES * sweep + ACT_MARGIN_MS

            def copy():
                left_s = -(-(at - self.c.link.now_ms()) // 1000)
                return dl_pack.bcast_activate_lsdu(self.key, self.iid, max(1, left_s))

        for _ in range(BCAST_COPIES):
            self._everywhere(copy)
        for s in self.sessions:
            r = self.result[s.aca.hex()]
            if not self._failed(s) and r["state"] == "ready":
                r["state"] = "activating"
                self.progress("activate", meter=s.aca)

    def check(self, sessions=None):
        """READ running_image of `sessions` (default: every meter) -> the result table."""
        for s in self.sessions if sessions is None else sessions:
            r = self.result[s.aca.hex()]
            try:
                self.frames["read"] += 1
                v = s.call(ref.READ_REQ, ref.read_req(RUNNING_IMAGE)).fields["value"]
                slot, trial, tries, version = struct.unpack(">BBBI", v)
                r.update(slot=slot, version=version, trial=bool(trial), tries=tries)
                if r["error"] is None and version == self.version:
                    r["state"] = "running on trial" if trial else "running"
                elif r["error"] is None and r["state"] in ("activating", "rolled back"):
                    # activated, the old version runs: not reset yet (the download is still
                    # ready / activated) or rolled back (a roll-back ends the session); READY
                    # without an activation time: it missed the broadcast, the sealed one
                    st = s.call(ref.READ_REQ, ref.read_req(DOWNLOAD_STATE)).fields["value"]
                    r["state"] = "activating" if st[0] in (2, 4) else "rolled back"
                    if st[0] == READY and not self._activation_set(s):
                        self._command(s, 0x19, struct.pack(">I", self.when))
                        self.late.append(s)
                elif r["error"] is None:
                    r["state"] = "old version"
            except (NoAnswer, Refused, ref.SmitpError, ConnectionError) as e:
                self._fail(s, e)  # a direct link ends with the meter's reset
        return self.result

    def _activation_set(self, s):
        self.frames["read"] += 1
        v = s.call(ref.READ_REQ, ref.read_req(DOWNLOAD_ACTIVATION)).fields["value"]
        return struct.unpack(">I", v)[0] != 0

    def wait(self, ms):
        """Leave the medium to the meters for `ms` (simulated: their resets and boots)."""
        self._idle(ms)

    def run(self, activate_at=0, wait_boot=None):
        self.start()
        self.broadcast()
        self.activate(activate_at)
        if wait_boot is not None:
            wait_boot()
        res = self.check()
        if self.late and wait_boot is not None:  # activated by the sealed COMMAND in check()
            late, self.late = self.late, []
            wait_boot()
            res = self.check(late)
        return res


def table(result: dict, version: int) -> str:
    lines = [f"{'meter':12}  {'version':>7}  {'slot':>4}  {'trial':5}  state"]
    for aca, r in result.items():
        lines.append(
            f"{aca:12}  {r.get('version', '?')!s:>7}  {r.get('slot', '?')!s:>4}  "
            f"{('yes' if r.get('trial') else 'no') if 'trial' in r else '?':5}  "
            f"{r['error'] or r['state']}"
        )
    ok = sum(1 for r in result.values() if r.get("version") == version)
    lines.append(f"{ok}/{len(result)} meters run version {version}")
    return "\n".join(lines)
