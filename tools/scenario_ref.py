"""Independent reference for load scenarios (docs/scenarios.md), numpy, CPython.

Written from docs/scenarios.md alone; shares no code with firmware/lib/metrology. Reads a
segment file and gives the true per-second values:

    ref = scenario_ref.reference(json.load(open("x.json")), seconds=600)
    ref["p"], ref["q"], ref["v"], ref["i"], ref["f"]     # per-second means (W, var, V, A, Hz)
    ref["ep_ws"], ref["eq_vars"]                          # per-second energies (W s, var s)
    ref["a_plus_ws"], ref["a_minus_ws"]                   # per-second import / export (W s)

Generators are defined by the file they expand to: `--generate NAME --seed N --seconds T`
asks MicroPython for it (`scenario.expand`). Command line:

    python tools/scenario_ref.py FILE.json [--seconds T] [--csv OUT.csv]
    python tools/scenario_ref.py --generate mixed --seed 1 --seconds 600 [--write FILE.json]
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_FIRST = {"v": 230.0, "i": 0.0, "phi_deg": 0.0, "f": 50.0, "h": []}


def parse(doc):
    """Segment table: integer ms boundaries and per-segment constants (inheritance applied)."""
    segs = doc["segments"]
    prev = dict(_FIRST)
    rows = []
    t = 0
    for s in segs:
        dur_ms = math.floor(float(s["dur"]) * 1000 + 0.5)
        cur = {}
        for k in ("v", "i", "phi_deg", "h"):
            cur[k] = s.get(k, prev[k])
        f0 = float(s.get("f", prev["f"]))
        f1 = float(s.get("f_end", f0))
        v, i = float(cur["v"]), float(cur["i"])
        phi = math.radians(float(cur["phi_deg"]))
        a = np.array([h[1] for h in cur["h"]], dtype=float)
        b = np.array([h[2] for h in cur["h"]], dtype=float)
        psi = np.radians(np.array([h[3] for h in cur["h"]], dtype=float))
        rows.append(
            (
                t,
                dur_ms,
                v * i * (math.cos(phi) + float(np.sum(a * b * np.cos(psi)))),
                v * i * math.sin(phi),
                v * math.sqrt(1 + float(np.sum(a * a))),
                i * math.sqrt(1 + float(np.sum(b * b))),
                f0,
                f1,
            )
        )
        prev = {"v": cur["v"], "i": cur["i"], "phi_deg": cur["phi_deg"], "h": cur["h"], "f": f1}
        t += dur_ms
    return np.array(rows, dtype=float)


def _cumulative(tab, rate, t_ms):
    """Integral from 0 to t_ms (array) of a piecewise-constant per-segment rate (per second)."""
    t0 = tab[:, 0]
    dur = tab[:, 1]
    at_start = np.concatenate(([0.0], np.cumsum(rate * dur / 1000.0)))
    k = np.clip(np.searchsorted(t0, t_ms, side="right") - 1, 0, len(t0) - 1)
    into = np.minimum(t_ms - t0[k], dur[k])
    return at_start[k] + rate[k] * into / 1000.0


def _cycles(tab, t_ms):
    """Line cycles from 0 to t_ms: f ramps linearly within a segment."""
    t0, dur, f0, f1 = tab[:, 0], tab[:, 1], tab[:, 6], tab[:, 7]
    whole = (f0 + f1) / 2.0 * dur / 1000.0
    at_start = np.concatenate(([0.0], np.cumsum(whole)))
    k = np.clip(np.searchsorted(t0, t_ms, side="right") - 1, 0, len(t0) - 1)
    x = np.minimum(t_ms - t0[k], dur[k]) / 1000.0
    return at_start[k] + f0[k] * x + (f1[k] - f0[k]) * x * x / (2.0 * dur[k] / 1000.0)


def reference(doc, seconds=None):
    tab = parse(doc)
    total_ms = tab[-1, 0] + tab[-1, 1]
    n = int(seconds if seconds is not None else total_ms // 1000)
    edges = np.arange(n + 1, dtype=float) * 1000.0

    def per_second(rate):
        return np.diff(_cumulative(tab, rate, edges))

    p, q = tab[:, 2], tab[:, 3]
    out = {
        "ep_ws": per_second(p),
        "eq_vars": per_second(q),
        "a_plus_ws": per_second(np.maximum(p, 0)),
        "a_minus_ws": per_second(np.maximum(-p, 0)),
        "v": per_second(tab[:, 4]),
        "i": per_second(tab[:, 5]),
        "f": np.diff(_cycles(tab, edges)),
        "start": int(doc.get("start", 820454400)),
    }
    out["p"] = out["ep_ws"]
    out["q"] = out["eq_vars"]
    return out


def generate(name, seed, seconds):
    """The segment file a firmware generator expands to (MicroPython runs scenario.expand)."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from tools.mpenv import micropython_exe, mp_env  # where MicroPython is: no firmware code

    code = (
        "import json\nfrom metrology import scenario\n"
        "print(json.dumps(scenario.expand(scenario.load(%r, seed=%d), %d)))\n"
        % (name, seed, seconds)
    )
    out = subprocess.run(
        [micropython_exe(), "-c", code], env=mp_env(), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?")
    ap.add_argument("--generate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--write")
    ap.add_argument("--csv")
    a = ap.parse_args(argv)
    if a.generate:
        doc = generate(a.generate, a.seed, a.seconds or 600)
        if a.write:
            with open(a.write, "w") as f:
                json.dump(doc, f)
    elif a.file:
        with open(a.file) as f:
            doc = json.load(f)
    else:
        ap.error("a file or --generate")
    ref = reference(doc, a.seconds)
    if a.csv:
        cols = ("v", "i", "p", "q", "f", "a_plus_ws", "a_minus_ws")
        with open(a.csv, "w") as f:
            f.write("second," + ",".join(cols) + "\n")
            for k in range(len(ref["p"])):
                f.write("%d,%s\n" % (k, ",".join("%.6f" % ref[c][k] for c in cols)))
    print(
        "%d s: A+ %.6f Wh, A- %.6f Wh, reactive %.6f varh"
        % (
            len(ref["p"]),
            ref["a_plus_ws"].sum() / 3600,
            ref["a_minus_ws"].sum() / 3600,
            ref["eq_vars"].sum() / 3600,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
