"""Map of a discovered network (the concentrator's --json result): SVG with the standard
library alone (`draw_svg`, what `make sim` writes), PNG with matplotlib (`draw`).

Positions come from the topology when given (its x/y in metres), else a radial layout by hop
count. The route tree is drawn from each meter to its last repeater (or the concentrator),
coloured by that link's reported SNR; every other link of the topology is drawn faintly, and
meters of the topology that discovery missed are marked with a red cross. Both backends draw
the same `scene()`.

    python tools/netmap.py build/sim/network.json build/sim/network.svg [--topology T.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

HOP_COLORS = ("#444444", "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#9467bd", "#8c564b")
SNR_MAX_DB = 30.0
# viridis at 0, 0.25, 0.5, 0.75, 1 (the matplotlib map's published anchor colours)
_VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))


def snr_rgb(snr):
    """SNR (dB, 0..30) -> (r, g, b) in 0..255 on viridis; grey when unknown."""
    if snr is None:
        return (128, 128, 128)
    t = min(max(snr / SNR_MAX_DB, 0.0), 1.0) * (len(_VIRIDIS) - 1)
    i = min(int(t), len(_VIRIDIS) - 2)
    f = t - i
    a, b = _VIRIDIS[i], _VIRIDIS[i + 1]
    return tuple(round(a[k] + (b[k] - a[k]) * f) for k in range(3))


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


def scene(result, topo=None, title=None):
    """Everything the map shows, in data coordinates: a dict of
    links [(p, q)], routes [(p, q, snr)], nodes [(p, hops, label)], missed [(p, label)],
    conc p or None, title, unit."""
    names = {}
    if topo:
        pos = {n["aca"]: (n.get("x", 0.0), n.get("y", 0.0)) for n in topo["nodes"]}
        names = {n["aca"]: n["id"] for n in topo["nodes"]}
        by_id = {n["id"]: n["aca"] for n in topo["nodes"]}
        links = [(pos[by_id[ln["a"]]], pos[by_id[ln["b"]]]) for ln in topo.get("links", [])]
    else:
        pos = _layout(result)
        links = []
    conc = result["concentrator"]
    routes, nodes, found = [], [], set()
    for n in result["nodes"]:
        found.add(n["aca"])
        parent = n["path"][-1] if n["path"] else conc
        if parent in pos and n["aca"] in pos:
            routes.append((pos[parent], pos[n["aca"]], n["hop_snr_db"][-1]))
    for n in result["nodes"]:
        if n["aca"] in pos:
            label = names.get(n["aca"], n["aca"][-6:])
            if n.get("status") == "no answer":
                label += " (no answer)"
            nodes.append((pos[n["aca"]], n["hops"], label))
    missed = [(pos[a], names.get(a, a[-6:])) for a in pos if a not in found and a != conc]
    if title is None:
        title = f"{len(result['nodes'])} meters discovered"
        if result.get("discovery_ms") is not None:
            title += f" in {result['discovery_ms'] / 1000:.0f} s"
            title += " simulated" if result.get("simulated_time") else ""
    return {
        "links": links,
        "routes": routes,
        "nodes": nodes,
        "missed": missed,
        "conc": pos.get(conc),
        "title": title,
        "unit": "m" if topo else "hops",
    }


def draw_svg(result, path, topo=None, title=None, width=900):
    """Write the map as SVG (no third-party package)."""
    sc = scene(result, topo, title)
    pts = [p for p, *_ in sc["nodes"]] + [p for p, _ in sc["missed"]]
    pts += [sc["conc"]] if sc["conc"] else []
    xs, ys = [p[0] for p in pts] or [0.0], [p[1] for p in pts] or [0.0]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    pad, top = 40, 40
    k = (width - 2 * pad) / span
    height = int(top + pad + (max(ys) - min(ys)) * k + pad)

    def xy(p):  # y grows upwards in the data, downwards in SVG
        return pad + (p[0] - min(xs)) * k, top + pad + (max(ys) - p[1]) * k

    def esc(t):
        return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="10">',
        '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="4" '
        'markerHeight="4" orient="auto"><path d="M0,0L10,5L0,10z" fill="#555"/>'
        "</marker></defs>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" font-size="15" text-anchor="middle">'
        f"{esc(sc['title'])}</text>",
    ]
    for p, q in sc["links"]:
        (x0, y0), (x1, y1) = xy(p), xy(q)
        out.append(
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
            'stroke="#d9d9d9" stroke-width="0.6"/>'
        )
    for p, q, snr in sc["routes"]:
        (x0, y0), (x1, y1) = xy(p), xy(q)
        d = math.hypot(x1 - x0, y1 - y0) or 1.0
        s = min(6.0, d / 3) / d  # stop short of the markers
        x0, y0, x1, y1 = (
            x0 + (x1 - x0) * s,
            y0 + (y1 - y0) * s,
            x1 - (x1 - x0) * s,
            y1 - (y1 - y0) * s,
        )
        rgb = "rgb(%d,%d,%d)" % snr_rgb(snr)
        tip = "SNR unknown" if snr is None else f"SNR {snr} dB"
        out.append(
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{rgb}" '
            f'stroke-width="1.8" marker-end="url(#a)"><title>{tip}</title></line>'
        )
    for p, hops, label in sc["nodes"]:
        x, y = xy(p)
        c = HOP_COLORS[min(hops, len(HOP_COLORS) - 1)]
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{c}"/>'
            f'<text x="{x + 5:.1f}" y="{y - 5:.1f}">{esc(label)}</text>'
        )
    if sc["conc"] is not None:
        x, y = xy(sc["conc"])
        out.append(
            f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12"/>'
            f'<text x="{x + 8:.1f}" y="{y + 14:.1f}">concentrator</text>'
        )
    for p, label in sc["missed"]:
        x, y = xy(p)
        out.append(
            f'<path d="M{x - 5:.1f},{y - 5:.1f}l10,10m0,-10l-10,10" stroke="red" '
            f'stroke-width="2"/><text x="{x + 5:.1f}" y="{y - 5:.1f}" fill="red">'
            f"{esc(label)} (not discovered)</text>"
        )
    for h in range(1, len(HOP_COLORS)):  # legend: hop colours, then the SNR scale
        y = top + 10 + 14 * h
        out.append(
            f'<circle cx="{width - 90}" cy="{y - 3}" r="4" fill="{HOP_COLORS[h]}"/>'
            f'<text x="{width - 80}" y="{y}">{h} hop{"s" if h > 1 else ""}</text>'
        )
    for i in range(7):
        snr = SNR_MAX_DB * i / 6
        y = top + 130 + 14 * i
        out.append(
            f'<rect x="{width - 94}" y="{y - 9}" width="10" height="10" '
            f'fill="rgb(%d,%d,%d)"/><text x="{width - 80}" y="{y}">{snr:.0f} dB</text>'
            % snr_rgb(snr)
        )
    out.append(f'<text x="{width - 94}" y="{top + 116}">link SNR</text>')
    out.append(
        f'<text x="{pad}" y="{height - 10}">scale: {sc["unit"]}, '
        f"{(width - 2 * pad) / k:.0f} {sc['unit']} across</text></svg>"
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(out) + "\n")
    return path


def draw(result, png, topo=None, title=None):
    """Write the map as PNG with matplotlib (in requirements-dev.txt)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    sc = scene(result, topo, title)
    fig, ax = plt.subplots(figsize=(10, 8), dpi=110)
    for (x0, y0), (x1, y1) in sc["links"]:
        ax.plot([x0, x1], [y0, y1], color="0.85", lw=0.6, zorder=1)
    norm = colors.Normalize(vmin=0, vmax=SNR_MAX_DB)
    cmap = cm.get_cmap("viridis") if hasattr(cm, "get_cmap") else matplotlib.colormaps["viridis"]
    for p, q, snr in sc["routes"]:
        ax.annotate(
            "",
            xy=q,
            xytext=p,
            arrowprops={
                "arrowstyle": "-|>",
                "color": "0.5" if snr is None else cmap(norm(snr)),
                "lw": 1.8,
                "shrinkA": 6,
                "shrinkB": 6,
            },
            zorder=2,
        )
    for (x, y), hops, label in sc["nodes"]:
        ax.scatter([x], [y], s=60, color=HOP_COLORS[min(hops, 6)], zorder=3)
        ax.annotate(label, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)
    if sc["conc"] is not None:
        ax.scatter(*sc["conc"], marker="s", s=120, color="black", zorder=4)
        ax.annotate("concentrator", sc["conc"], xytext=(6, -10), textcoords="offset points")
    for p, label in sc["missed"]:
        ax.scatter(*p, marker="x", s=80, color="red", zorder=4)
        ax.annotate(label, p, xytext=(4, 4), textcoords="offset points", fontsize=7, color="red")
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, label="link SNR reported by the receiving meter (dB)")
    for h in range(1, 7):
        ax.scatter([], [], color=HOP_COLORS[h], label=f"{h} hop{'s' if h > 1 else ''}")
    if sc["missed"]:
        ax.scatter([], [], marker="x", color="red", label="not discovered")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(sc["title"])
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(sc["unit"])
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png


def main(argv=None):
    ap = argparse.ArgumentParser(description="draw a discovered network (.svg or .png)")
    ap.add_argument("result")
    ap.add_argument("out")
    ap.add_argument("--topology")
    a = ap.parse_args(argv)
    res = json.loads(Path(a.result).read_text())
    topo = json.loads(Path(a.topology).read_text()) if a.topology else None
    (draw_svg if a.out.endswith(".svg") else draw)(res, a.out, topo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
