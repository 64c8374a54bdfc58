"""Topology generator for the simulated medium (format: docs/simulation.md, tools/medium.py).

A concentrator at the transformer (origin, phase 0 = couples on all three phases) and meters
along radial feeders. Link attenuation grows with distance (coupling loss + dB per metre) plus a
penalty between meters on different phases; SNR = TX level - attenuation - receiver noise.
A link exists when the SNR is >= snr_min_db in both directions (reliable), or, with
weak_db > 0, down to snr_min_db - weak_db (such links decode rarely but still interfere).
The generator places meter after meter and keeps each placement only if the network stays
connected with its farthest meter exactly levels+1 hops away, so any number of meters works
(levels is capped at meters-1).

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


def _link(a, b, snr_min_db=SNR_MIN_DB, weak_db=0.0, tx_level=TX_LEVEL_DBUV):
    """The link a-b (SNR >= snr_min_db - weak_db in both directions), or None."""
    d = math.hypot(a["x"] - b["x"], a["y"] - b["y"])
    att = COUPLING_DB + DB_PER_M * d
    if a["phase"] and b["phase"] and a["phase"] != b["phase"]:
        att += PHASE_PENALTY_DB
    worst = min(_snr(tx_level, att, a["noise_dbuv"]), _snr(tx_level, att, b["noise_dbuv"]))
    if worst >= snr_min_db - weak_db:
        return {"a": a["id"], "b": b["id"], "atten_db": round(att, 2)}
    return None


def links_from_positions(nodes, snr_min_db=SNR_MIN_DB, weak_db=0.0, tx_level=TX_LEVEL_DBUV):
    out = []
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            ln = _link(a, b, snr_min_db, weak_db, tx_level)
            if ln:
                out.append(ln)
    return out


def _bfs(adj, start):
    """{id: hops from start} over the adjacency lists adj."""
    dist = {start: 0}
    todo = [start]
    while todo:
        nxt = []
        for a in todo:
            for b in adj[a]:
                if b not in dist:
                    dist[b] = dist[a] + 1
                    nxt.append(b)
        todo = nxt
    return dist


def hop_levels(topo):
    """BFS hop count from the master over the topology's links: {id: hops}."""
    adj = {n["id"]: [] for n in topo["nodes"]}
    for ln in topo["links"]:
        adj[ln["a"]].append(ln["b"])
        adj[ln["b"]].append(ln["a"])
    return _bfs(adj, next(n["id"] for n in topo["nodes"] if n.get("role") == "master"))


def generate(meters=20, levels=3, seed=1, feeders=None, snr_min_db=SNR_MIN_DB, weak_db=0.0):
    """A connected radial network of `meters` >= 1 meters whose farthest meter is exactly
    levels+1 hops away, every hop count 1..levels+1 populated. levels is capped at meters-1
    (one meter per level at least); the levels used are in topo["generator"]["levels"].

    Built meter by meter, each placement checked: first a spine along feeder 0 (meter k at
    hop k, k = 1..levels+1), then the other meters at random along the feeders, each kept only
    if it links to the network and leaves the deepest hop count unchanged. A meter that finds
    no such place in 200 draws is put beside a random meter already placed, with that meter's
    phase and noise, so it hears exactly what that one hears (never a shortcut)."""
    if meters < 1:
        raise ValueError("meters must be >= 1")
    levels = max(0, min(levels, meters - 1))
    depth = levels + 1
    rng = random.Random(seed)
    # spine spacing: consecutive spine meters always hear each other (worst noise, other phase),
    # two apart never do (best noise, same phase)
    margin = TX_LEVEL_DBUV - COUPLING_DB - snr_min_db
    r_min = (margin - NOISE_DBUV - 3 - PHASE_PENALTY_DB) / DB_PER_M  # 270 m
    r_max = (margin - NOISE_DBUV + 3 + weak_db) / DB_PER_M  # 390 m
    spacing = max(0.75 * r_min, 0.55 * r_max)
    span = spacing * depth
    feeders = feeders or (2 if meters < 12 else 3 if meters < 60 else min(6, meters // 30))
    angles = [2 * math.pi * k / feeders + rng.uniform(-0.2, 0.2) for k in range(feeders)]
    master = {"id": "C", "aca": MASTER_ACA, "role": "master", "phase": 0,
              "x": 0.0, "y": 0.0, "noise_dbuv": NOISE_DBUV}  # fmt: skip
    nodes, links, adj = [master], [], {"C": []}

    def meter(i, d, ang, lat, phase=None, noise=None):
        return {
            "id": "M%d" % i,
            "aca": meter_aca(i),
            "role": "meter",
            "phase": phase or rng.randint(1, 3),
            "x": round(d * math.cos(ang) - lat * math.sin(ang), 1),
            "y": round(d * math.sin(ang) + lat * math.cos(ang), 1),
            "noise_dbuv": round(NOISE_DBUV + rng.uniform(-3, 3), 1) if noise is None else noise,
        }

    def try_add(node, want_hop):
        new = [ln for ln in (_link(o, node, snr_min_db, weak_db) for o in nodes) if ln]
        adj[node["id"]] = [ln["a"] for ln in new]
        for ln in new:
            adj[ln["a"]].append(node["id"])
        hops = _bfs(adj, "C")
        if want_hop is None:  # anywhere, as long as the network stays `depth` deep
            ok = node["id"] in hops and max(hops.values()) == depth
        else:  # a spine meter: exactly at want_hop, the deepest so far
            ok = hops.get(node["id"]) == want_hop and max(hops.values()) == want_hop
        if ok:
            nodes.append(node)
            links.extend(new)
            return True
        for ln in new:
            adj[ln["a"]].pop()
        del adj[node["id"]]
        return False

    for i in range(1, meters + 1):
        k = i if i <= depth else None  # spine meter at hop k
        placed = False
        for _ in range(200):
            if k is not None:
                node = meter(
                    i, spacing * k + rng.uniform(-10, 10), angles[0], rng.uniform(-10, 10)
                )
            else:
                d = span * math.sqrt(rng.uniform(0.02, 1.0))
                node = meter(i, d, angles[i % feeders], rng.uniform(-25, 25))
            if try_add(node, k):
                placed = True
                break
        while not placed:
            if k is not None:
                raise RuntimeError(f"spine meter {i} not placeable (weak_db {weak_db} too large?)")
            twin = rng.choice(nodes[1:])
            node = dict(meter(i, 0, 0, 0), x=twin["x"], y=twin["y"], phase=twin["phase"],
                        noise_dbuv=twin["noise_dbuv"])  # fmt: skip
            placed = try_add(node, None)
    return {
        "version": 1,
        "name": f"radial-{meters}m-{levels}lv-s{seed}",
        "tx_level_dbuv": TX_LEVEL_DBUV,
        "nodes": nodes,
        "links": links,
        "generator": {"seed": seed, "levels": levels},
    }


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
