"""Accuracy of the direct-ADC path against an independent numpy computation (CPython).

    python tools/adc_ref.py [--scenario mixed|accuracy] [--seconds 600]

reference(spec, seconds): the scenario's waveforms v(t), i(t) synthesised by numpy from the
segment file alone (docs/scenarios.md: sines of 2*pi*cycles(t), the fundamental plus
harmonics, cycles integrated from f and its ramps) at REF_FS samples per second, then per
second: active energy = integral of v*i, RMS of v and i, and the fundamental reactive energy
V*I*sin(phi) (the scenario's Q, fundamental only). It shares no code with the firmware; the
analytic energies (piecewise constant P) are computed too, as a check of the synthesis.

firmware(spec, seconds): the firmware's SimAdcSource + AdcFrontend in Unix MicroPython, one
read per simulated second; per-second samples as JSON.

accuracy_scenario(): the 10-minute test waveform of the accuracy test: 50 Hz +- 0.5 Hz ramps,
odd and even harmonics up to the 13th, load steps of 0.5..60 A at power factors from 0.17 to 1
inductive and capacitive, a fifth of the time exporting; seeded, so the same on every run.
"""

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.mpenv import micropython_exe, mp_env  # noqa: E402

REF_FS = 40000  # reference sampling: 200 samples per cycle of the 13th harmonic at 50.5 Hz


def accuracy_scenario(seed=2026, seconds=600):
    rng = np.random.default_rng(seed)
    segs, t = [], 0.0
    f = 50.0
    while t < seconds:
        dur = float(np.round(rng.uniform(2.0, 25.0), 3))
        f_end = float(np.round(rng.uniform(49.5, 50.5), 3))
        h = []
        for n in range(2, 14):
            if n % 2 or rng.random() < 0.3:
                h.append(
                    [
                        n,
                        float(rng.uniform(0, 0.04 / n * 3)),
                        float(rng.uniform(0, 0.5 / n * 2)),
                        float(rng.uniform(-180, 180)),
                    ]
                )
        i = float(rng.choice([0.5, 2.0, 5.0, 10.0, 20.0, 40.0, 60.0]) * rng.uniform(0.8, 1.0))
        # keep the peaks inside the simulated front end's range (409.6 V, 102.4 A): the
        # waveform tests the metering, not the clipping flag
        i = min(i, 95.0 / (math.sqrt(2) * (1 + sum(x[2] for x in h))))
        segs.append(
            dict(
                dur=dur,
                v=float(rng.uniform(200, 250)),
                i=i,
                phi_deg=float(
                    rng.uniform(-80, 80) if rng.random() < 0.8 else rng.uniform(100, 260)
                ),
                f=f,
                f_end=f_end,
                h=h,
            )
        )
        f = f_end
        t += dur
    return {"format": "mm-scenario/1", "start": 820454400, "segments": segs}


def _segments(spec):
    """(t0, dur, V, I, phi, f0, f1, harmonics) per segment, fields inherited as documented."""
    prev = dict(v=230.0, i=0.0, phi_deg=0.0, f=50.0, h=[])
    out, t0 = [], 0.0
    for d in spec["segments"]:
        dur = math.floor(d["dur"] * 1000 + 0.5) / 1000.0
        v = d.get("v", prev["v"])
        i = d.get("i", prev["i"])
        ph = d.get("phi_deg", prev["phi_deg"])
        f0 = d.get("f", prev["f"])
        f1 = d.get("f_end", f0)
        h = d.get("h", prev["h"])
        out.append((t0, dur, v, i, math.radians(ph), f0, f1, h))
        prev = dict(v=v, i=i, phi_deg=ph, f=f1, h=h)
        t0 += dur
    return out


def reference(spec, seconds):
    """Per-second dict of numpy arrays: e_ws, eq_vars (fundamental), v_rms, i_rms; plus the
    analytic totals (e_ws_analytic, eq_vars_analytic)."""
    segs = _segments(spec)
    n = seconds * REF_FS
    t = (np.arange(n) + 0.5) / REF_FS  # midpoint rule
    v = np.zeros(n)
    i = np.zeros(n)
    q_inst = np.zeros(n)
    cyc0 = 0.0
    e_an = q_an = 0.0
    for t0, dur, V, I, phi, f0, f1, h in segs:
        if t0 >= seconds:
            break
        a, b = np.searchsorted(t, [t0, t0 + dur])
        x = t[a:b] - t0
        cyc = cyc0 + f0 * x + (f1 - f0) * x * x / (2 * dur)
        th = 2 * np.pi * cyc
        v[a:b] = math.sqrt(2) * V * np.sin(th)
        i[a:b] = math.sqrt(2) * I * np.sin(th - phi)
        p = math.cos(phi)
        for hn, va, ia, ip in h:
            v[a:b] += math.sqrt(2) * V * va * np.sin(hn * th)
            i[a:b] += math.sqrt(2) * I * ia * np.sin(hn * th - math.radians(ip))
            p += va * ia * math.cos(math.radians(ip))
        q_inst[a:b] = V * I * math.sin(phi)
        span = min(dur, seconds - t0)
        e_an += V * I * p * span
        q_an += V * I * math.sin(phi) * span
        cyc0 += (f0 + f1) / 2 * dur
    pv = (v * i).reshape(seconds, REF_FS)
    return dict(
        e_ws=pv.sum(axis=1) / REF_FS,
        eq_vars=q_inst.reshape(seconds, REF_FS).sum(axis=1) / REF_FS,
        v_rms=np.sqrt((v * v).reshape(seconds, REF_FS).mean(axis=1)),
        i_rms=np.sqrt((i * i).reshape(seconds, REF_FS).mean(axis=1)),
        e_ws_analytic=e_an,
        eq_vars_analytic=q_an,
    )


MP_RUN = r"""
import sys, json
from metrology import scenario
from metrology.adc_frontend import AdcFrontend, AdcCal
from metrology.sample import Sample
from drivers.sim.adc_source import SimAdcSource
spec = sys.argv[1]
secs = int(sys.argv[2])
sc = scenario.load(json.load(open(spec)))
t = [0]
src = SimAdcSource(sc, lambda: t[0], noise=int(sys.argv[3]), seed=int(sys.argv[4]))
fe = AdcFrontend(src, AdcCal())
s = Sample()
rows = []
for k in range(secs):
    t[0] += 1000
    ok = fe.measure(s)
    rows.append([ok, s.dt_ms, s.ep_mws, s.eq_mvars, s.v_mv, s.i_ma, s.p_mw, s.q_mvar, s.f_mhz,
                 s.v_min_mv, s.v_max_mv, s.status])
print(json.dumps(rows))
"""

COLS = "ok dt_ms ep_mws eq_mvars v_mv i_ma p_mw q_mvar f_mhz v_min_mv v_max_mv status".split()


def firmware(spec, seconds, noise=1, seed=1):
    """Per-second Sample fields from the firmware (dict of numpy arrays)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
        path = f.name
    try:
        p = subprocess.run(
            [
                micropython_exe(),
                "-X",
                "heapsize=16M",
                "-c",
                MP_RUN,
                path,
                str(seconds),
                str(noise),
                str(seed),
            ],
            env=mp_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        os.unlink(path)
    if p.returncode:
        raise RuntimeError(p.stdout + p.stderr)
    rows = np.array(json.loads(p.stdout), dtype=np.int64)
    return {c: rows[:, k] for k, c in enumerate(COLS)}


def expand_generator(name, seconds, seed=0):
    """A generator's first seconds as a segment file (the firmware's scenario.expand in Unix
    MicroPython: generators are defined by what they expand to, docs/scenarios.md)."""
    script = (
        "import sys, json\nfrom metrology import scenario\n"
        "print(json.dumps(scenario.expand(scenario.load(sys.argv[1], seed=int(sys.argv[3])),"
        " int(sys.argv[2]))))\n"
    )
    p = subprocess.run(
        [micropython_exe(), "-c", script, name, str(seconds), str(seed)],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if p.returncode:
        raise RuntimeError(p.stdout + p.stderr)
    return json.loads(p.stdout)


def compare(spec, seconds=600, noise=1, seed=1):
    """Firmware against the reference: the figures the accuracy test asserts and reports."""
    ref = reference(spec, seconds)
    fw = firmware(spec, seconds, noise, seed)
    e_ref = ref["e_ws"].sum()
    e_fw = fw["ep_mws"].sum() / 1000.0
    q_ref = ref["eq_vars"].sum()
    q_fw = fw["eq_mvars"].sum() / 1000.0
    s_ref = float(np.sum(ref["v_rms"] * ref["i_rms"]))  # apparent energy, V*A*s
    live = ref["v_rms"] > 20
    v_err = (fw["v_mv"] / 1000.0 - ref["v_rms"])[live] / ref["v_rms"][live]
    iok = ref["i_rms"] > 1.0
    i_err = (fw["i_ma"] / 1000.0 - ref["i_rms"])[iok] / ref["i_rms"][iok]
    return dict(
        seconds=seconds,
        energy_ws_ref=float(e_ref),
        energy_ws_ref_analytic=float(ref["e_ws_analytic"]),
        energy_ws_fw=float(e_fw),
        energy_err_pct=float(100 * (e_fw - e_ref) / abs(e_ref)),
        abs_energy_ws_ref=float(np.abs(ref["e_ws"]).sum()),
        reactive_vars_ref=float(q_ref),
        reactive_vars_fw=float(q_fw),
        reactive_err_pct_of_apparent=float(100 * (q_fw - q_ref) / s_ref),
        v_rms_err_pct_mean=float(100 * np.mean(np.abs(v_err))),
        v_rms_err_pct_max=float(100 * np.max(np.abs(v_err))),
        i_rms_err_pct_mean=float(100 * np.mean(np.abs(i_err))),
        i_rms_err_pct_max=float(100 * np.max(np.abs(i_err))),
        reads_ok=int(fw["ok"].sum()),
        clipped_reads=int(np.sum(fw["status"] & 1)),
        dt_ms_total=int(fw["dt_ms"].sum()),
    )


def main():
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="accuracy")
    ap.add_argument("--seconds", type=int, default=600)
    a = ap.parse_args()
    spec = (
        accuracy_scenario()
        if a.scenario == "accuracy"
        else expand_generator(a.scenario, a.seconds)
    )
    print(json.dumps(compare(spec, a.seconds), indent=1))


if __name__ == "__main__":
    main()
