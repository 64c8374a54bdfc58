"""`make bench-sim`: the simulated LV section at 20 and 200 meters (tools/sim.py, seed 1,
3 repeater levels) -> stdout, build/bench/sim.json and, for each size, the map
build/bench/sim_<n>/network.png.

Figures per size: meters discovered and read, simulated time (discovery, total), wall time
(whole run, discovery), frames on the medium, collisions. Wall time depends on the machine
(recorded in the result). The committed copy bench/data/sim.json is what README.md,
docs/architecture.md and docs/simulation.md quote (host_tests/py/test_docs_figures.py checks
that they agree); after a change to the firmware, the medium or the concentrator, run
`make bench-sim` and copy build/bench/sim.json there (and the 20-meter map to
docs/img/sim_network_20.png).
"""

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"
SIZES = (20, 200)
SEED = 1


def run(n):
    out = OUT / f"sim_{n}"
    cmd = [sys.executable, str(ROOT / "tools" / "sim.py"), "--meters", str(n), "--seed",
           str(SEED), "--quiet", "--out", str(out)]  # fmt: skip
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"bench-sim: {n} meters failed:\n{p.stdout}{p.stderr}")
    r = json.loads((out / "network.json").read_text())
    med, gt = r["medium"], r["ground_truth"]
    return {
        "meters": n,
        "levels": max(x["hops"] for x in r["nodes"]) - 1,
        "discovered": gt["discovered"],
        "status_read": gt["status_read"],
        "sim_discovery_s": round(r["discovery_ms"] / 1000, 1),
        "sim_total_s": round(med["sim_ms"] / 1000, 1),
        "wall_s": r["wall_s"],
        "wall_discovery_s": r["wall_discovery_s"],
        "wall_process_s": round(time.monotonic() - t0, 1),
        "frames_tx": med["frames_tx"],
        "collided_frames": med["collided_frames"],
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    res = {
        "bench": "sim",
        "seed": SEED,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "python": platform.python_version(),
        "runs": [],
    }
    for n in SIZES:
        r = run(n)
        res["runs"].append(r)
        print(
            f"{n} meters ({r['levels']} repeater levels): discovered {r['discovered']}, read"
            f" {r['status_read']}; simulated {r['sim_total_s']:.0f} s (discovery"
            f" {r['sim_discovery_s']:.0f} s) in {r['wall_s']:.1f} s of wall time; frames"
            f" {r['frames_tx']}, collided {r['collided_frames']}",
            flush=True,
        )
    (OUT / "sim.json").write_text(json.dumps(res, indent=1) + "\n")
    print("wrote", OUT / "sim.json")


if __name__ == "__main__":
    main()
