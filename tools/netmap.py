"""PNG map of a discovered network (the concentrator's --json result).

Positions come from the topology when given (its x/y in metres), else a radial layout by hop
count. The route tree is drawn from each meter to its last repeater (or the concentrator),
coloured by that link's reported SNR; every other link of the topology is drawn faintly, and
meters of the topology that discovery missed are marked with a red cross.

    python tools/netmap.py build/sim/network.json build/sim/network.png [--topology T.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def _layout(result):
    levels = {}
    for n in result["nodes"]:
        levels.setdefault(n["hops"], []).append(n["aca"])
    pos = {result["concentrator"]: (0.0, 0.0)}
    for h, acas in levels.items():
        for i, a in enumerate(acas):
            ang = 2 * math.pi * (i + 0.5 * (h % 2)) / len(acas)
            pos[a] = (h * math.cos(ang), h * math.sin(ang))
    return pos


def draw(result, png, topo=None, title=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    names = {}
    if topo:
        pos = {n["aca"]: (n.get("x", 0.0), n.get("y", 0.0)) for n in topo["nodes"]}
        names = {n["aca"]: n["id"] for n in topo["nodes"]}
        by_id = {n["id"]: n["aca"] for n in topo["nodes"]}
    else:
        pos = _layout(result)
        by_id = {}
    fig, ax = plt.subplots(figsize=(10, 8), dpi=110)
    if topo:
        for ln in topo.get("links", []):
            a, b = pos.get(by_id[ln["a"]]), pos.get(by_id[ln["b"]])
            ax.plot([a[0], b[0]], [a[1], b[1]], color="0.85", lw=0.6, zorder=1)
    norm = colors.Normalize(vmin=0, vmax=30)
    cmap = cm.get_cmap("viridis") if hasattr(cm, "get_cmap") else matplotlib.colormaps["viridis"]
    conc = result["concentrator"]
    found = set()
    for n in result["nodes"]:
        found.add(n["aca"])
        parent = n["path"][-1] if n["path"] else conc
        if parent not in pos or n["aca"] not in pos:
            continue
        snr = n["hop_snr_db"][-1]
        (x0, y0), (x1, y1) = pos[parent], pos[n["aca"]]
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "0.5" if snr is None else cmap(norm(snr)),
                "lw": 1.8,
                "shrinkA": 6,
                "shrinkB": 6,
            },
            zorder=2,
        )
    hop_colors = ["#444444", "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#9467bd", "#8c564b"]
    for n in result["nodes"]:
        if n["aca"] not in pos:
            continue
        x, y = pos[n["aca"]]
        ax.scatter([x], [y], s=60, color=hop_colors[min(n["hops"], 6)], zorder=3)
        label = names.get(n["aca"], n["aca"][-6:])
        if n.get("status") == "no answer":
            label += " (no answer)"
        ax.annotate(label, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)
    if conc in pos:
        ax.scatter(*pos[conc], marker="s", s=120, color="black", zorder=4)
        ax.annotate("concentrator", pos[conc], xytext=(6, -10), textcoords="offset points")
    missed = [a for a in pos if a not in found and a != conc]
    for a in missed:
        ax.scatter(*pos[a], marker="x", s=80, color="red", zorder=4)
        ax.annotate(names.get(a, a[-6:]), pos[a], xytext=(4, 4), textcoords="offset points",
                    fontsize=7, color="red")  # fmt: skip
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, label="link SNR reported by the receiving meter (dB)")
    for h in range(1, 7):
        ax.scatter([], [], color=hop_colors[h], label=f"{h} hop{'s' if h > 1 else ''}")
    if missed:
        ax.scatter([], [], marker="x", color="red", label="not discovered")
    ax.legend(loc="upper right", fontsize=8)
    t = title or (
        f"{len(result['nodes'])} meters discovered"
        + (
            f" in {result['discovery_ms'] / 1000:.0f} s"
            + (" simulated" if result.get("simulated_time") else "")
            if result.get("discovery_ms") is not None
            else ""
        )
    )
    ax.set_title(t)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("m" if topo else "hops")
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png


def main(argv=None):
    ap = argparse.ArgumentParser(description="draw a discovered network")
    ap.add_argument("result")
    ap.add_argument("png")
    ap.add_argument("--topology")
    a = ap.parse_args(argv)
    res = json.loads(Path(a.result).read_text())
    topo = json.loads(Path(a.topology).read_text()) if a.topology else None
    draw(res, a.png, topo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
