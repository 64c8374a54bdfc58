"""Offline model of the download flood (docs/download.md §5.4): which meters get which blocks
under a relay schedule, on a generated topology with the medium's rules (tools/medium.py: a
copy is lost where another transmission the receiver hears overlaps it and the wanted one is not
capture_db stronger, else with the FER curve at the SINR). Slots are whole: every transmission
of one slot overlaps every other of it. No firmware code; used to choose the schedule.

    python tools/flood_model.py --meters 200 --levels 3 --seed 1
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import topology as topogen  # noqa: E402
from tools.medium import CAPTURE_DB, FerCurve, Topology  # noqa: E402

FRAME_BYTES = 112 + 23 + 6  # a relayed block frame at BS 112


def routes(topo: Topology):
    """{node: parent} as discovery finds them: BFS levels, a node's parent the first node of
    the level above (fewer hops, stronger bottleneck SNR, ACA) that hears it."""
    m = topo.master().id
    level = topo.hops_from_master()
    snr = {m: 1e9}
    parent = {}
    for h in range(1, max(level.values()) + 1):
        above = sorted(
            (n for n, lv in level.items() if lv == h - 1),
            key=lambda n: (-snr[n], topo.nodes[n].aca),
        )
        for n in (n for n, lv in level.items() if lv == h):
            for p in above:
                if topo.link(p, n) is not None:
                    parent[n] = p
                    snr[n] = min(snr[p], topo.rx_level(p, n)[1], topo.rx_level(n, p)[1])
                    break
    return parent, level


class Model:
    def __init__(self, topo: Topology, curve: FerCurve, seed=1, capture_db=CAPTURE_DB):
        self.topo = topo
        self.curve = curve
        self.rng = random.Random(seed)
        self.capture = capture_db
        self.parent, self.level = routes(topo)
        self.master = topo.master().id
        self.meters = [n for n in topo.nodes if n != self.master and n in self.level]
        # tier of a relay = its level (the concentrator is tier 0); relays = parents of someone
        self.relays = sorted(set(self.parent.values()) - {self.master})
        self.hear = {n: {} for n in topo.nodes}  # rx -> {tx: (level, snr)}
        for key in topo.links:
            a, b = sorted(key)
            self.hear[b][a] = topo.rx_level(a, b)
            self.hear[a][b] = topo.rx_level(b, a)

    def receive(self, txs):
        """txs: {tx node: payload}; -> {rx node: payload} of the copies decoded."""
        got = {}
        for rx, h in self.hear.items():
            if rx in txs:
                continue  # half duplex
            heard = [(h[t][0], h[t][1], t) for t in txs if t in h]
            if not heard:
                continue
            heard.sort(reverse=True)
            level, snr, t = heard[0]
            if len(heard) > 1:
                if level - heard[1][0] < self.capture:
                    continue
                noise = level - snr
                p = 10 ** (noise / 10) + sum(10 ** (x[0] / 10) for x in heard[1:])
                snr = level - 10 * math.log10(p)
            if self.rng.random() < self.curve.fer(snr, FRAME_BYTES):
                continue
            got[rx] = (txs[t], t)
        return got

    def run_pass(self, blocks, have, relays, slot_of, any_lower, nslots):
        """One flood pass. slot_of(relay, block) -> slot offset of the relay's copy (the
        concentrator's is 0); a relay sends a block once, in its slot, if it holds it by then
        (any_lower: from any earlier copy; else only its route parent's copy). Returns slots
        used."""
        events = {}  # absolute slot -> {tx: block}
        period = nslots
        for i, b in enumerate(blocks):
            events.setdefault(i * period, {})[self.master] = b
        t = 0
        pending = {}  # relay -> {block: slot due}
        last = (len(blocks) - 1) * period
        while t <= last or any(pending.values()) or t in events:
            txs = dict(events.pop(t, {}))
            for r, due in pending.items():
                for b, s in list(due.items()):
                    if s == t:
                        txs[r] = b
                        del due[b]
            got = self.receive(txs)
            for rx, (b, tx) in got.items():
                if rx == self.master:
                    continue
                have[rx].add(b)
                if rx in relays and b not in relays[rx]:
                    if any_lower or tx == self.parent[rx]:
                        s = slot_of(rx, b, blocks)
                        if s > t:
                            relays[rx][b] = s
                            pending.setdefault(rx, {})[b] = s
            t += 1
        return t

    def simulate(self, nblocks, scheme, passes=4):
        have = {n: set() for n in self.meters}
        total_slots = 0
        blocks = list(range(nblocks))
        active = set(self.relays)
        out = []
        for p in range(passes):
            relays = {r: {} for r in active}
            idx = {b: i for i, b in enumerate(blocks)}
            slot_of, nslots = scheme(self, idx, active, p)
            total_slots += self.run_pass(blocks, have, relays, slot_of, scheme.any_lower, nslots)
            todo = [n for n in self.meters if len(have[n]) < nblocks]
            out.append(len(todo))
            if not todo:
                break
            miss = set()
            for n in todo:
                miss |= set(range(nblocks)) - have[n]
            blocks = sorted(miss)
            active = set()
            for n in todo:
                r = self.parent.get(n)
                while r is not None and r != self.master:
                    active.add(r)
                    r = self.parent.get(r)
        return total_slots, out


def tiered(nslots, any_lower=False, subslots=1):
    """Relay of level k sends block i at slot i*P + k (P = nslots); with subslots > 1 the
    relays of a level pick one of `subslots` consecutive slots at random per pass."""

    def scheme(model, idx, active, p):
        pick = {r: model.rng.randrange(subslots) for r in active}
        per = 1 + max(model.level.values()) * subslots  # unused bound

        def slot_of(r, b, blocks):
            k = model.level[r]
            return idx[b] * nslots + (k - 1) * subslots + 1 + pick[r]

        return slot_of, nslots

    scheme.any_lower = any_lower
    return scheme


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--meters", type=int, default=200)
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--blocks", type=int, default=300)
    a = ap.parse_args(argv)
    topo = Topology(topogen.generate(a.meters, a.levels, a.seed))
    m = Model(topo, FerCurve.load(), a.seed)
    lv = {}
    for r in m.relays:
        lv[m.level[r]] = lv.get(m.level[r], 0) + 1
    print("relays per level", dict(sorted(lv.items())), "meters", len(m.meters))
    for name, sch in [
        ("3 slots, parent only", tiered(3)),
        ("3 slots, any lower", tiered(3, True)),
        ("2 slots, parent only", tiered(2)),
        ("2 slots, any lower", tiered(2, True)),
    ]:
        slots, left = Model(topo, FerCurve.load(), a.seed).simulate(a.blocks, sch)
        print(f"{name:28} slots/block {slots / a.blocks:.2f}  missing after each pass {left}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
