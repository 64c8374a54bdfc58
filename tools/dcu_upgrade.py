"""The concentrator's software upgrade (docs/download.md §1, §5, §6; `concentrator.py upgrade`).

    up = Upgrade(conc, sessions, image, download_key, bs=96, gap_ms=0, progress=bar)
    table = up.run(activate_at=0, wait_boot=None)

1. download_start (sealed COMMAND 0x18, write key) on every meter;
2. every block once by REPROG_BROADCAST (S discipline, no answer) along each distinct route
   of the targets (a broadcast at the end of a repeater route reaches the meters behind it);
   after each frame the link is left idle `gap_ms` so normal reads get the medium;
3. per meter, the missing-block bitmap (REPROG_LOCAL status, paged) and the gaps by
   REPROG_LOCAL through its route, until it reports READY (or refused, or `rounds` pass);
4. download_activate (COMMAND 0x19) at `activate_at` (0 = at once);
5. `wait_boot()` (the caller restarts or waits for the meters), then READ running_image
   (0x1006) of each meter — which is also the concentrator the trial image must hear.
Every LSDU comes from tools/dl_pack.py and tools/smitp_ref.py (no firmware code).
"""

from __future__ import annotations

import struct

from tools import dl_pack
from tools import mm_frame as mm
from tools import smitp_ref as ref
from tools.dcu_session import NoAnswer, Refused

RUNNING_IMAGE = 0x1006
MAC_HDR = 11  # frame bytes around the LSDU without route entries (docs/datalink.md §1)
STATE_NAMES = dl_pack.STATES


class Upgrade:
    def __init__(self, conc, sessions, image, key, bs=96, gap_ms=0, rounds=6, progress=None):
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
        routes = sorted({tuple(s.route) for s in self.sessions if not self._failed(s)})
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
            if st["n"] == 0 or first >= st["total"]:
                return st, missing

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
        for s in self.sessions:
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
                if r["error"] is None:
                    r["state"] = "running" if version == self.version else "old version"
            except (NoAnswer, Refused, ref.SmitpError, ConnectionError) as e:
                self._fail(s, e)  # a direct link ends with the meter's reset
        return self.result

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
