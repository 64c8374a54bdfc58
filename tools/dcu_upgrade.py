"""The concentrator's software upgrade (docs/download.md §1, §5, §6; `concentrator.py upgrade`).

    up = Upgrade(conc, sessions, image, download_key, bs=96, gap_ms=0, progress=bar)
    table = up.run(activate_at=0, wait_boot=None)

1. download_start (sealed COMMAND 0x18, write key) on every meter;
2. the flood (§5.4): download_relay (COMMAND 0x1B) to every repeater of the targets' routes,
   then every block once by REPROG_BROADCAST (S discipline, no answer) without route, each
   relay level sending it again in its slot (3 slots per block, plus `gap_ms` idle for normal
   reads), then the union of the blocks the meters' bitmaps still lack once more; when a route
   repeater is no target, every block along each distinct route instead;
3. per meter, the missing-block bitmap (REPROG_LOCAL status, paged) and the gaps by
   REPROG_LOCAL through its route, until it reports READY (or refused, or `rounds` pass);
4. download_activate (COMMAND 0x19) at `activate_at` (0 = at once);
5. `wait_boot()` (the caller restarts or waits for the meters), then READ running_image
   (0x1006) of each meter — which is also the concentrator the trial image must hear.
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
STATE_NAMES = dl_pack.STATES


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
        self.frames = {"broadcast": 0, "local": 0, "status": 0, "command": 0, "read": 0}
        # normal traffic during the flood: between() runs every `every` blocks, once the
        # relays are done with the last block (e.g. one meter read)
        self.between = between
        self.every = every
        self.max_passes = max_passes
        self.relays = 0  # download_relay commands that started a relay
        self.passes = []  # blocks per flood pass
        self.heard = {}  # meter -> {transmitter: (sig, snr)} (register 0x0205)
        self.plans = []  # per flood pass: slots per block, relays, colours per level
        self.result = {s.aca.hex(): {"state": "?", "error": None} for s in self.sessions}

    def _fail(self, s, e):
        self.result[s.aca.hex()]["error"] = str(e)[:60]

    def _command(self, s, code, args=b""):
        self.frames["command"] += 1
        return s.call(ref.COMMAND_REQ, bytes([code]) + args, ref.ECC_CTR_WRITE)

    def start(self):
        for s in list(self.sessions):
            try:
                self._command(s, 0x18, dl_pack.start_args(self.image, self.bs))
            except (NoAnswer, Refused, ref.SmitpError) as e:
                self._fail(s, e)
            self.progress("start", meter=s.aca)

    def broadcast(self):
        """Every block to every target: one flood when every repeater of their routes is a
        target (it can relay), else once along each distinct route. The relays and their slots
        come from what the meters hear (register 0x0205, tools/dl_plan.py, §5.5). After each
        pass the bitmaps of the meters still incomplete; the union of their missing blocks goes
        out again, planned for those meters only, up to `max_passes`; the rest goes by
        REPROG_LOCAL (fill)."""
        if not self.routes_relayable():
            return self.broadcast_routes()
        self.read_neighbours()
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
            if miss and st["state"] == 1:
                union.update(miss)
                left.append(s)
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
        = from the end of that copy to the relay's own slot (§5.4, §5.5)."""
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
        # deepest meters first: a repeater resets into its new image only after the meters
        # behind it got their command (with when=0 each resets ACT_GRACE_S after its ACK)
        for s in sorted(self.sessions, key=lambda s: -len(s.route)):
            if self._failed(s):
                continue
            try:
                st = self.fill(s)
                r = self.result[s.aca.hex()]
                r["state"] = r["download"] = STATE_NAMES.get(st["state"], "?")
                if st["state"] == 3:
                    r["error"] = f"refused, NACK {st['code']}"
                    continue
                self._command(s, 0x19, struct.pack(">I", when))
                r["state"] = "activating"
                self.progress("activate", meter=s.aca)
            except (NoAnswer, Refused, ref.SmitpError, ConnectionError) as e:
                self._fail(s, e)

    def check(self):
        for s in self.sessions:
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
                    # ready / activated) or rolled back (a roll-back ends the session)
                    st = s.call(ref.READ_REQ, ref.read_req(DOWNLOAD_STATE)).fields["value"]
                    r["state"] = "activating" if st[0] in (2, 4) else "rolled back"
                elif r["error"] is None:
                    r["state"] = "old version"
            except (NoAnswer, Refused, ref.SmitpError, ConnectionError) as e:
                self._fail(s, e)  # a direct link ends with the meter's reset
        return self.result

    def wait(self, ms):
        """Leave the medium to the meters for `ms` (simulated: their resets and boots)."""
        self._idle(ms)

    def run(self, activate_at=0, wait_boot=None):
        self.start()
        self.broadcast()
        self.activate(activate_at)
        if wait_boot is not None:
            wait_boot()
        return self.check()


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
