"""`make bench-heap`: heap allocated per metering second on a real unix_sim meter, per feature
(docs/metering.md §9). Figures only.

For each front-end (the STPM3x driver on the simulated IC, the direct-ADC path) it builds
unix_sim meters with the features attached one more at a time (energy alone, then calibration,
tariffs + billing, profiles, cut-off, display) and runs each on virtual time
(bench/heap_mp.py): after a warm-up, every metering second's gc.mem_alloc() delta, the
simulation's own allocations (simulated IC, waveform synthesis, flash files) subtracted. The
steady state is every second without an event; the seconds with a checkpoint, a profile
record, a daily snapshot, a billing close, a demand-block end or a B-Node update are reported
per event. The last run of each front-end (all features) spans 30 minutes around a local
midnight, so it also gives the per-event bytes, the per-listener split of meter.on_second,
and the flash writes per day it implies.

Figures are bytes on the unix port (x64): objects there are about twice their size on a
32-bit port (a small object takes one 16-byte block on both, a coroutine 96 B here). `--quick`
shortens the runs.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

# 2026-11-26 23:40 CET (22:40 UTC): the long run crosses 23:45, local midnight and 00:15
START = 849_048_000
STEPS = ("energy", "calib", "tariff", "profiles", "cutoff", "display")
EVENTS = (
    "checkpoint",
    "load profile",
    "measurand profile",
    "daily snapshot",
    "billing close",
    "demand block",
    "B-Node update",
)


def run(frontend, features, warmup, window, tmp):
    state = os.path.join(tmp, "%s_%d" % (frontend, len(features)))
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=4M", "bench/heap_mp.py", frontend, ",".join(features),
         str(warmup), str(window), str(START), state],
        env=mp_env(), cwd=ROOT, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    if p.returncode:
        raise SystemExit(p.stdout + p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def steady(rows):
    """(mean, min, max) bytes of the seconds without an event, their count, and the seconds
    of those that allocated anything: [(UTC second, bytes)]."""
    q = [r for r in rows if not any(r[3])]
    v = [r[1] for r in q]
    return sum(v) / len(v), min(v), max(v), len(v), [(r[0], r[1]) for r in q if r[1]]


def events(rows, base):
    """{event combination: [bytes above the steady state, ...]}."""
    out = {}
    for r in rows:
        if any(r[3]):
            key = " + ".join(EVENTS[j] for j in range(len(EVENTS)) if r[3][j])
            out.setdefault(key, []).append(r[1] - base)
    return out


def wear(d, window):
    per_day = 86400 / window
    st = d["store"]
    f_bytes = d["flash"][0] * per_day
    rows = []
    for name, bs, n, cycles in (
        ("STM32F429 bank 2 (2 x 128 KiB)", 128 * 1024, 2, 10_000),
        ("ESP32 mmstore (16 x 4 KiB)", 4096, 16, 100_000),
    ):
        epb = f_bytes / (bs - 24 - st["live"]) / n
        rows.append((name, epb, cycles / epb / 365))
    return f_bytes, d["profile_flash"][0] * per_day, st["live"], rows


def main():
    quick = "--quick" in sys.argv
    warmup, short, long_ = (30, 60, 600) if quick else (60, 300, 1800)
    tmp = tempfile.mkdtemp(prefix="bench_heap_", dir=os.path.join(ROOT, "build"))
    try:
        for fe in ("stpm", "adc"):
            print("== %s front-end: heap per metering second (unix x64, simulation excluded)" % fe)
            print("%-44s %9s %7s %7s  %s" % ("features attached", "B/s mean", "min", "max",
                                              "sim's own B/s"))  # fmt: skip
            prev = None
            for k in range(1, len(STEPS) + 1):
                feats = list(STEPS[:k])
                last = k == len(STEPS)
                d = run(fe, feats, warmup, long_ if last else short, tmp)
                mean, lo, hi, n, odd = steady(d["rows"])
                sim = sum(r[2] for r in d["rows"]) / len(d["rows"])
                delta = "" if prev is None else " (%+.1f)" % (mean - prev)
                print("%-44s %9.1f %7d %7d  %.0f%s" % ("+".join(feats), mean, lo, hi, sim, delta))
                if odd:
                    print("   seconds that allocated (UTC, B): %s" % odd[:8])
                prev = mean
            print("-- all features, %d s around local midnight: per listener of meter.on_second"
                  % long_)  # fmt: skip
            quiet = [r for r in d["rows"] if not any(r[3])]
            for j, name in enumerate(d["listeners"]):
                print("   %-28s %6.1f B/s" % (name, sum(r[4][j] for r in quiet) / len(quiet)))
            print(
                "-- clock.now_ms() calls per metering second (RTC reads excluded): %.1f; each is "
                "a long int on a 32-bit port once the uptime passes 2**30 ms (12.4 days)"
                % (d["now_ms_calls"] / len(d["rows"]))
            )
            print("-- events (bytes above the steady state, per occurrence)")
            for key, v in sorted(events(d["rows"], mean).items()):
                print("   %-60s n=%-3d mean %6.0f  max %6d" % (key, len(v), sum(v) / len(v),
                                                              max(v)))  # fmt: skip
            f_day, p_day, live, rows = wear(d, long_)
            print("-- flash: store %.0f KiB/day, profile flash %.0f KiB/day (live set %d B)"
                  % (f_day / 1024, p_day / 1024, live))  # fmt: skip
            for name, epb, years in rows:
                print("   %s: %.2f erases/block/day -> %.0f years" % (name, epb, years))
            if d["failed"] or d["faults"]:
                print("   (failed reads %d, faults %s)" % (d["failed"], d["recent_faults"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
