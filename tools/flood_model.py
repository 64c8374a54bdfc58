"""Offline model of the download flood (docs/download.md §5.4): which meters get which blocks
under a relay schedule, on a generated topology with the medium's rules (tools/medium.py: a
copy is lost where another transmission the receiver hears overlaps it and the wanted one is not
capture_db stronger, else with the FER curve at the SINR). Slots are whole: every transmission
of one slot overlaps every other of it. No firmware code. It compares v1 (every route
repeater relays, a level per slot) with the plan of tools/dl_plan.py (§5.6) on the tables the
meters would report (their 12 best neighbours, the nodes above them first).

    python tools/flood_model.py --meters 200 --levels 3 --seed 1
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import dl_plan  # noqa: E402
from tools import topology as topogen  # noqa: E402
from tools.medium import CAPTURE_DB, FerCurve, Topology  # noqa: E402

FRAME_BYTES = 112 + 23 + 6  # a relayed block frame at BS 112
ENTRIES = 12  # firmware/lib/mac/heard.py


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

    def run_pass(self, blocks, have, relays, period):
        """One flood pass: the master sends blocks[i] at slot i * period, relay r (source,
        offset) sends it at i * period + offset when it decoded its source's copy. Returns the
        slots used."""
        sends = {}  # slot -> {tx: block}
        for i, b in enumerate(blocks):
            sends.setdefault(i * period, {})[self.master] = b
        last = (len(blocks) - 1) * period + max((o for _s, o in relays.values()), default=0)
        idx = {b: i for i, b in enumerate(blocks)}
        for t in range(last + 1):
            txs = sends.pop(t, {})
            for rx, (b, tx) in self.receive(txs).items():
                if rx == self.master:
                    continue
                have[rx].add(b)
                mine = relays.get(rx)
                if mine is not None and tx == mine[0]:  # its source's copy (§5.4)
                    sends.setdefault(idx[b] * period + mine[1], {})[rx] = b
        return last + 1

    def tables(self):
        """What register 0x0205 would hold: each meter's ENTRIES strongest transmitters."""
        out = {}
        for n in self.meters:
            lv = self.level[n]  # the nodes above first, then the strongest (mac/heard.py)
            h = sorted(
                self.hear[n].items(), key=lambda x: (self.level.get(x[0], 0) >= lv, -x[1][0])
            )[:ENTRIES]
            out[n] = {t: (lv, 4 * snr) for t, (lv, snr) in h}
        return out

    def simulate(self, nblocks, planner, passes=4):
        """planner(need) -> (relays {r: (src, off)}, period). Returns (slots, missing per pass)."""
        have = {n: set() for n in self.meters}
        total, blocks, need, out = 0, list(range(nblocks)), set(self.meters), []
        for _ in range(passes):
            relays, period = planner(need)
            total += self.run_pass(blocks, have, relays, period)
            need = {n for n in self.meters if len(have[n]) < nblocks}
            out.append(len(need))
            if not need:
                break
            blocks = sorted(set().union(*(set(range(nblocks)) - have[n] for n in need)))
        return total, out


def route_planner(model, nslots=3):
    """Today's flood (§5.4): every route repeater relays its parent's copy at slot = level."""

    def planner(need):
        act = set()
        for n in need:
            r = model.parent.get(n)
            while r is not None and r != model.master:
                act.add(r)
                r = model.parent.get(r)
        return {r: (model.parent[r], model.level[r]) for r in act}, nslots

    return planner


def neighbour_planner(model):
    """tools/dl_plan.py on the tables the meters would report."""
    aca = {n: model.topo.nodes[n].aca for n in model.meters}
    aca[model.master] = dl_plan.MASTER
    back = {v: k for k, v in aca.items()}
    levels = {aca[n]: model.level[n] for n in model.meters}
    parents = {aca[n]: aca[model.parent[n]] for n in model.meters}
    tabs = model.tables()
    heard = {aca[n]: {aca[t]: v for t, v in tabs[n].items()} for n in model.meters}

    def planner(need):
        p = dl_plan.plan(levels, parents, heard, {aca[n] for n in need})
        model.last_plan = p
        return {back[r]: (back[s], o) for r, (s, o) in p.relays.items()}, p.period

    return planner


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--meters", type=int, default=200)
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--blocks", type=int, default=300)
    a = ap.parse_args(argv)
    topo = Topology(topogen.generate(a.meters, a.levels, a.seed))
    curve = FerCurve.load()
    print(f"{a.meters} meters, {a.levels} levels, seed {a.seed}, {a.blocks} blocks")
    runs = [("routes, 3 slots (v1)", route_planner), ("neighbour plan (§5.6)", neighbour_planner)]
    for name, mk in runs:
        m = Model(topo, curve, a.seed)
        slots, left = m.simulate(a.blocks, mk(m))
        extra = ""
        if getattr(m, "last_plan", None) is not None:
            p = m.last_plan
            extra = f"  period {p.period}, colours {p.colours}, relays {len(p.relays)}"
        print(
            f"  {name:22} slots/block {slots / a.blocks:5.2f}  missing after each pass"
            f" {left}{extra}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
