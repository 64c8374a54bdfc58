"""Topology generator for the simulated medium (format: docs/simulation.md, tools/medium.py).

A concentrator at the transformer (origin, phase 0 = couples on all three phases) and meters
along radial feeders. Link attenuation grows with distance (coupling loss + dB per metre) plus a
penalty between meters on different phases; SNR = TX level - attenuation - receiver noise.
A link exists when the SNR is >= snr_min_db in both directions (reliable), or, with
weak_db > 0, down to snr_min_db - weak_db (such links decode rarely but still interfere).
Rejection sampling keeps the first layout that is connected and needs exactly levels+1 hops
to reach the farthest meter, so that `levels` repeater levels are used.

    python tools/topology.py --meters 20 --levels 3 --seed 1 -o build/sim/topology.json
    python tools/topology.py --chain 4 -o tools/topologies/chain4.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MASTER_ACA = "dc0000000001"
TX_LEVEL_DBUV = 120.0
NOISE_DBUV = 50.0
COUPLING_DB = 30.0
DB_PER_M = 0.1
PHASE_PENALTY_DB = 6.0
SNR_MIN_DB = 4.0


def meter_aca(i):
    """ACA of meter i (1-based): 4d 4d <i, 3 bytes> 01 (byte 5 never 0x03, see datalink §1)."""
    return "4d4d%06x01" % i


def _snr(tx_level, atten, noise):
    return tx_level - atten - noise


def links_from_positions(nodes, snr_min_db=SNR_MIN_DB, weak_db=0.0, tx_level=TX_LEVEL_DBUV):
    out = []
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            d = math.hypot(a["x"] - b["x"], a["y"] - b["y"])
            att = COUPLING_DB + DB_PER_M * d
            if a["phase"] and b["phase"] and a["phase"] != b["phase"]:
                att += PHASE_PENALTY_DB
            worst = min(_snr(tx_level, att, a["noise_dbuv"]), _snr(tx_level, att, b["noise_dbuv"]))
            if worst >= snr_min_db - weak_db:
                out.append({"a": a["id"], "b": b["id"], "atten_db": round(att, 2)})
    return out


def hop_levels(topo):
    """BFS hop count from the master over the topology's links: {id: hops}."""
    adj = {n["id"]: [] for n in topo["nodes"]}
    for ln in topo["links"]:
        adj[ln["a"]].append(ln["b"])
        adj[ln["b"]].append(ln["a"])
    master = next(n["id"] for n in topo["nodes"] if n.get("role") == "master")
    dist = {master: 0}
    todo = [master]
    while todo:
        nxt = []
        for a in todo:
            for b in adj[a]:
                if b not in dist:
                    dist[b] = dist[a] + 1
                    nxt.append(b)
        todo = nxt
    return dist


def generate(meters=20, levels=3, seed=1, feeders=None, snr_min_db=SNR_MIN_DB, weak_db=0.0):
    """A connected radial network whose farthest meter is levels+1 hops away."""
    rng = random.Random(seed)
    reach = (TX_LEVEL_DBUV - NOISE_DBUV - COUPLING_DB - snr_min_db - 3) / DB_PER_M  # ~330 m
    feeders = feeders or (2 if meters < 12 else 3 if meters < 60 else min(6, meters // 30))
    for attempt in range(2000):
        nodes = [
            {
                "id": "C",
                "aca": MASTER_ACA,
                "role": "master",
                "phase": 0,
                "x": 0.0,
                "y": 0.0,
                "noise_dbuv": NOISE_DBUV,
            }
        ]
        span = reach * (levels + 0.55)
        angles = [2 * math.pi * k / feeders + rng.uniform(-0.2, 0.2) for k in range(feeders)]
        for i in range(1, meters + 1):
            # the last meter of feeder 0 sits at the far end so the deepest level exists
            if i == 1:
                d, ang = span * rng.uniform(0.93, 1.0), angles[0]
            else:
                d, ang = span * math.sqrt(rng.uniform(0.02, 1.0)), angles[i % feeders]
            lat = rng.uniform(-25, 25)
            nodes.append(
                {
                    "id": "M%d" % i,
                    "aca": meter_aca(i),
                    "role": "meter",
                    "phase": rng.randint(1, 3),
                    "x": round(d * math.cos(ang) - lat * math.sin(ang), 1),
                    "y": round(d * math.sin(ang) + lat * math.cos(ang), 1),
                    "noise_dbuv": round(NOISE_DBUV + rng.uniform(-3, 3), 1),
                }
            )
        topo = {
            "version": 1,
            "name": f"radial-{meters}m-{levels}lv-s{seed}",
            "tx_level_dbuv": TX_LEVEL_DBUV,
            "nodes": nodes,
            "links": links_from_positions(nodes, snr_min_db, weak_db),
        }
        hops = hop_levels({"nodes": nodes, "links": topo["links"]})
        if len(hops) != len(nodes):
            continue
        if max(hops.values()) != levels + 1:
            continue
        if any(list(hops.values()).count(k) == 0 for k in range(1, levels + 2)):
            continue
        topo["generator"] = {"seed": seed, "attempt": attempt, "levels": levels}
        return topo
    raise RuntimeError("no layout found; try another seed or more meters")


def chain(n, spacing_m=250.0):
    """Concentrator and n meters in a line, each hearing only its neighbours (n hops deep)."""
    nodes = [
        {"id": "C", "aca": MASTER_ACA, "role": "master", "phase": 0, "x": 0.0, "y": 0.0},
    ]
    for i in range(1, n + 1):
        nodes.append(
            {"id": "M%d" % i, "aca": meter_aca(i), "role": "meter", "phase": 1,
             "x": i * spacing_m, "y": 0.0}
        )  # fmt: skip
    links = [{"a": nodes[i]["id"], "b": nodes[i + 1]["id"], "snr_db": 15.0} for i in range(n)]
    return {"version": 1, "name": f"chain{n}", "nodes": nodes, "links": links}


def star(n, snr_db=15.0, drop=0.0):
    """Concentrator and n meters that all hear it but not each other (hidden from each other:
    their RC answers collide at the concentrator when they pick the same slot)."""
    nodes = [{"id": "C", "aca": MASTER_ACA, "role": "master", "phase": 0, "x": 0.0, "y": 0.0}]
    links = []
    for i in range(1, n + 1):
        a = 2 * math.pi * i / n
        nodes.append(
            {"id": "M%d" % i, "aca": meter_aca(i), "role": "meter", "phase": 1 + i % 3,
             "x": round(200 * math.cos(a), 1), "y": round(200 * math.sin(a), 1)}
        )  # fmt: skip
        link = {"a": "C", "b": "M%d" % i, "snr_db": snr_db}
        if drop:
            link["drop"] = drop
        links.append(link)
    return {"version": 1, "name": f"star{n}", "nodes": nodes, "links": links}


def main(argv=None):
    ap = argparse.ArgumentParser(description="generate a topology for tools/medium.py")
    ap.add_argument("--meters", type=int, default=20)
    ap.add_argument("--levels", type=int, default=3, help="repeater levels (max hops - 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--weak-db", type=float, default=0.0)
    ap.add_argument("--chain", type=int, help="a chain of N meters instead")
    ap.add_argument("--star", type=int, help="N meters around the concentrator instead")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args(argv)
    if a.chain:
        topo = chain(a.chain)
    elif a.star:
        topo = star(a.star)
    else:
        topo = generate(a.meters, a.levels, a.seed, weak_db=a.weak_db)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(topo, indent=1))
    hops = hop_levels(topo)
    hist = {k: list(hops.values()).count(k) for k in sorted(set(hops.values())) if k}
    print(f"{a.out}: {len(topo['nodes']) - 1} meters, {len(topo['links'])} links, hops {hist}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
