"""`make sim-week`: a household week on one unix_sim meter in simulated time, read through the
application layer and checked against an independent numpy computation (docs/simulation.md §9).

    python tools/sim_week.py [--days 7] [--start 2026-06-29] [--seed 1] [--out build/sim-week]

1. Programme: the meter is started in host time on its direct TCP link, the concentrator
   writes the tariff programme (WRITETAB 0x0900, docs/tariffs.md) and the meter is stopped.
2. Run: the same flash is started in simulated time (config sim_start/sim_until: the clock
   jumps from wakeup to wakeup, drivers/sim/simclock.py) on the household scenario of the
   simulated STPM3x; the concentrator polls the meter's clock until the run is over.
3. Read, as a concentrator does (tools/concentrator.py): energy registers, load and measurand
   profiles, daily snapshots, billing data sets, period and maximum-demand registers.
4. Reference: tools/scenario_ref.py gives the per-second truth of the same scenario;
   tools/meter_ref.py (no firmware code) turns it into registers, profiles, snapshots, billing
   and demand; every figure is compared and the errors printed.
Writes OUT/report.json and OUT/load_profile.png (load profile over the tariff bands); exits 1
when a figure is outside its tolerance.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import concentrator as dcu  # noqa: E402
from tools import meter_ref  # noqa: E402
from tools import smitp_ref as ref  # noqa: E402
from tools.dcu_keys import State  # noqa: E402
from tools.dcu_profiles import decode_records  # noqa: E402
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

ACA = bytes.fromhex("4d4d00007701")
KEYS = ref.Keys(bytes(range(0x40, 0x50)), bytes(range(0x50, 0x60)))
EPOCH_2000 = 946684800
TAIL_S = 120  # simulated seconds after the last day, so its last records are closed
ENERGY_TOL_PCT = 0.01  # issue #11: energy error on the IC path
QUANTUM_WH = 1.0  # registers count whole Wh: a difference of two is exact to +-1 Wh
# measurand means against the true time-averages: (field, index, unit, tolerance in units)
MP_TOL = (("v_dv", 0, "0.1 V", 3), ("i_ca", 1, "0.01 A", 5), ("p_w", 2, "W", 2))
# the Italian three-band programme of docs/tariffs.md §3.1 (plan 1, programme 0) and its
# fixed holidays: WRITETAB records PROG*16+DAYTYPE HOUR MINUTE TARIFF / MONTH DAY YEAR DAYTYPE
PROGRAMME = [
    (0x00, 0, 0, 3), (0x00, 7, 0, 2), (0x00, 8, 0, 1), (0x00, 19, 0, 2), (0x00, 23, 0, 3),
    (0x01, 0, 0, 3), (0x01, 7, 0, 2), (0x01, 23, 0, 3),
    (0x02, 0, 0, 3),
]  # fmt: skip
HOLIDAYS = [
    (1, 1, 0, 2), (1, 6, 0, 2), (4, 25, 0, 2), (5, 1, 0, 2), (6, 2, 0, 2), (8, 15, 0, 2),
    (11, 1, 0, 2), (12, 8, 0, 2), (12, 25, 0, 2), (12, 26, 0, 2),
]  # fmt: skip


def utc2000(d: _dt.datetime) -> int:
    return int(d.replace(tzinfo=_dt.timezone.utc).timestamp()) - EPOCH_2000


def iso(t: int) -> str:
    return _dt.datetime.fromtimestamp(t + EPOCH_2000, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextlib.contextmanager
def meter(state_dir: Path, log_name: str, **cfg):
    """A meter process on a direct TCP link with its flash in state_dir; yields (session,
    process). The session is the concentrator's (tools/concentrator.py)."""
    port = _free_port()
    conf = {
        "state_dir": str(state_dir),
        "plc_listen": port,
        "aca": ACA.hex(),
        "key_write": KEYS.write.hex(),
        "key_read": KEYS.read.hex(),
        "seed": 7,
        "tc_ms": 20,
    }
    conf.update(cfg)
    path = state_dir / (log_name + ".json")
    path.write_text(json.dumps(conf))
    with open(state_dir / (log_name + ".log"), "wb") as log:
        proc = subprocess.Popen(
            [micropython_exe(), "firmware/main.py", "--config", str(path)],
            env=mp_env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        link = None
        try:
            link = dcu.DirectLink("127.0.0.1", port, connect_timeout_s=30)
            c = dcu.Concentrator(link, opts=dcu.Options(tc_ms=20))
            yield dcu.MeterSession(c, ACA, [], KEYS, State(None)), proc
        finally:
            if link is not None:
                link.close()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_clock(s, until: int, max_wall_s: float, progress=True) -> dict:
    """Poll the meter's clock (READ 0x0100) until it reaches `until`; returns speed figures."""
    t_wall = time.monotonic()
    first = None
    next_print = 0.0
    while True:
        now = int.from_bytes(s.read("clock"), "big")
        first = now if first is None else first
        el = time.monotonic() - t_wall
        if progress and el >= next_print:
            print(f"  simulated {iso(now)}, wall {el:4.0f} s", file=sys.stderr)
            next_print += 10
        if now >= until:
            return {"wall_s": round(el, 1), "simulated_s": now - first}
        if el > max_wall_s:
            raise TimeoutError(f"the meter reached only {iso(now)} in {max_wall_s} s")
        time.sleep(1.0)


def programme(s):
    """Write the tariff programme and holidays (authenticated WRITETAB, docs/tariffs.md)."""
    s.writetab("weekly_tariff", [bytes(r) for r in PROGRAMME])
    s.writetab("public_holidays", [bytes(r) for r in HOLIDAYS])


def _records(s, name):
    return [tuple(r) for r in s.readtab(name, 0)["records"]]


def read_all(s) -> dict:
    """Everything the comparison needs, through the application layer."""
    out = {"clock": int.from_bytes(s.read("clock"), "big")}
    out["tables"] = {
        n: _records(s, n) for n in ("weekly_tariff", "annual_tariff", "public_holidays")
    }
    out["plan"] = s.read("contract1_plan")[0]
    out["energy"] = {v["reg"]: v["value"] for v in dcu._group_values(s, (0x04,), 0)}
    for kind, name in (("lp", "load_profile"), ("mp", "measurand_profile")):
        out[kind] = decode_records(name, s.readtab(name, 0)["records"])
    out["daily"] = decode_records("daily_snapshot", s.readtab("daily_snapshot", 0)["records"])
    out["billing_sets"] = decode_records("billing_data", s.readtab("billing_data", 0)["records"])
    out["clock_billing"] = int.from_bytes(s.read("clock"), "big")
    out["billing"] = {v["reg"]: v["value"] for v in dcu._group_values(s, (0x06, 0x15, 0x16), 0)}
    out["quality"] = {
        "events": len(s.readtab("voltage_events", 0)["records"]),
        "long": int.from_bytes(s.read("long_interruptions"), "big"),
        "short": int.from_bytes(s.read("short_interruptions"), "big"),
    }
    out["params"] = {
        "lp_period_min": s.read("lp_period_min")[0],
        "mp_period_min": s.read("mp_period_min")[0],
        "demand_period_min": s.read("demand_period_min")[0],
        "utc_offset_min": int.from_bytes(s.read("utc_offset_min"), "big", signed=True),
        "dst_mode": s.read("dst_mode")[0],
    }
    return out


class Compare:
    """Rows of (what, meter, reference, error, tolerance, ok)."""

    def __init__(self):
        self.rows = []

    def add(self, what, got, want, tol, pct=False):
        """tol in the figure's unit, or in % with pct; a % figure compares whole-Wh registers
        with an exact integral, so an error within the 1 Wh quantum always passes."""
        err = got - want
        ok = abs(err) <= tol if not pct else abs(err) <= max(abs(want) * tol / 100, QUANTUM_WH)
        self.rows.append(
            {"what": what, "meter": got, "ref": want, "err": err, "tol": tol, "pct": pct,
             "ok": ok}
        )  # fmt: skip

    def failures(self):
        return [r for r in self.rows if not r["ok"]]

    def print(self):
        print(f"{'figure':44s} {'meter':>12s} {'reference':>14s} {'error':>12s}  ok")
        for r in self.rows:
            err = (
                f"{r['err'] / r['ref'] * 100:+.4f} %"
                if r["pct"] and r["ref"]
                else f"{r['err']:+g}"
            )
            ref_s = f"{r['ref']:.3f}" if isinstance(r["ref"], float) else str(r["ref"])
            ok = "yes" if r["ok"] else "NO"
            print(f"{r['what']:44s} {r['meter']!s:>12s} {ref_s:>14s} {err:>12s}  {ok}")


def _complete(rec):
    """A profile record of a whole, valid interval (docs/profiles.md §2: DST is information)."""
    return not set(rec["flags"]) - {"DST"}


def _val(v):
    """A decoded register value: TIME registers decode to {"value": s, "time": iso}."""
    return v["value"] if isinstance(v, dict) else v


def compare(data: dict, mr: meter_ref.MeterRef, t0: int, t1: int) -> Compare:
    c = Compare()
    # load profile: every full interval of the run, record by record (whole Wh each)
    lp_s = data["params"]["lp_period_min"] * 60
    # the first interval is partial by design: the first metering second ends at t0 + 1
    want = mr.load_profile(t0 + lp_s, t1, lp_s)
    got = {r["t"]: r for r in data["lp"] if _complete(r)}
    common = sorted(set(want) & set(got))
    c.add("load profile: full intervals recorded", len(common), len(want), 0)
    worst = 0
    for t in common:
        g = got[t]
        vals = (g["a_plus_wh"], g["a_minus_wh"], g["r_plus_varh"], g["r_minus_varh"])
        worst = max(worst, *(abs(a - b) for a, b in zip(vals, want[t])))
    c.add("load profile: worst interval error, Wh/varh", worst, 0, 1)
    sum_got = sum(got[t]["a_plus_wh"] for t in common)
    exact = sum(mr.exact_wh("a_plus", t - lp_s, t) for t in common)
    c.add("load profile: A+ over the run, Wh", sum_got, exact, ENERGY_TOL_PCT, pct=True)
    # measurand profile: means within their quantum
    mp_s = data["params"]["mp_period_min"] * 60
    mwant = mr.measurand_profile(t0 + mp_s, t1, mp_s)
    mgot = {r["t"]: r for r in data["mp"] if _complete(r)}
    mcommon = sorted(set(mwant) & set(mgot))
    c.add("measurand profile: full intervals recorded", len(mcommon), len(mwant), 0)
    # means of the values the IC latches each second, quantized (docs/simulation.md §9)
    for key, k, q, tol in MP_TOL:
        errs = [mgot[t][key] - mwant[t][k] for t in mcommon] or [0.0]
        c.add(f"measurand profile: mean {key} error, {q}", round(sum(errs) / len(errs), 3), 0, tol)
        c.add(f"measurand profile: worst {key} error, {q}", round(max(errs, key=abs), 3), 0, tol)
    # daily snapshots: registers at each local midnight, totals and per tariff
    dwant = mr.daily(t0, t1)
    dgot = {r["t"]: r for r in data["daily"]}
    names = ("a_plus_wh", "a_minus_wh", "q1_varh", "q2_varh", "q3_varh", "q4_varh")
    names += ("t1_wh", "t2_wh", "t3_wh", "t4_wh")
    c.add("daily snapshots at local midnight", len(set(dwant) & set(dgot)), len(dwant), 0)
    for m in sorted(set(dwant) & set(dgot)):
        for i, n in enumerate(names):
            c.add(f"daily {iso(m)[:10]} {n}", dgot[m][n], dwant[m][i], 1)
    # energy over the run from the last snapshot: the 0.01 % target
    if dwant:
        last = max(dwant)
        for n in ("a_plus", "a_minus", "q1", "q4"):
            got_wh = dgot.get(last, {}).get(n + ("_wh" if n[0] == "a" else "_varh"), 0)
            want_wh = mr.exact_wh(n, t0, last)
            if want_wh >= 1000:  # a relative error only means something on a real amount
                c.add(f"energy {n} to {iso(last)} (exact)", got_wh, want_wh, ENERGY_TOL_PCT,
                      pct=True)  # fmt: skip
    # billing data sets closed during the run, and the current period's maximum demand
    p_s = data["params"]["demand_period_min"] * 60
    prev = t0
    for b in data["billing_sets"]:
        if "t" not in b or not t0 < b["t"] <= t1:
            continue
        t = b["t"]
        c.add(f"billing {iso(t)} A+ Wh", b["a_plus_wh"], mr.register("a_plus", t), 1)
        c.add(f"billing {iso(t)} A- Wh", b["a_minus_wh"], mr.register("a_minus", t), 1)
        for k in range(4):
            c.add(f"billing {iso(t)} T{k + 1} Wh", b["tariff_wh"][k], mr.tariff_wh(k + 1, t), 1)
        md = mr.demand(prev, t, p_s)
        for k in range(4):
            w, at = md.get(k + 1, (0, 0))
            c.add(f"billing {iso(t)} T{k + 1} max demand W", b["max_demand"][k]["w"], w, 2)
            c.add(f"billing {iso(t)} T{k + 1} max demand time", b["max_demand"][k]["t"], at, 0)
        prev = t
    end = data["clock_billing"] // p_s * p_s
    md = mr.demand(prev, end, p_s)
    bill = data["billing"]
    for k in range(1, 5):
        w, at = md.get(k, (0, 0))
        c.add(f"max demand T{k} this period, W", bill.get(f"max_demand_t{k}_w", -1), w, 2)
        c.add(f"max demand T{k} block end", _val(bill.get(f"max_demand_t{k}_time", -1)), at, 0)
    # power quality: voltage events of the scenario
    q = data["quality"]
    c.add("voltage events recorded", q["events"], mr.voltage_events(t0, t1), 0)
    return c


def plot(path: Path, data: dict, mr: meter_ref.MeterRef, t0: int, t1: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    lp_s = data["params"]["lp_period_min"] * 60
    recs = [r for r in data["lp"] if t0 < r["t"] <= t1]
    fig, ax = plt.subplots(figsize=(14, 4.5))
    colors = {1: "#f4cccc", 2: "#fff2cc", 3: "#d9ead3", 4: "#cfe2f3"}
    tar = mr.tariff
    k = 0
    while k < mr.n:  # tariff bands from the reference's per-second tariff
        j = k
        while j < mr.n and tar[j] == tar[k]:
            j += 1
        ax.axvspan((k + mr.start - t0) / 3600, (j + mr.start - t0) / 3600,
                   color=colors.get(int(tar[k]), "#eeeeee"), lw=0)  # fmt: skip
        k = j
    x = np.array([(r["t"] - lp_s - t0) / 3600 for r in recs])
    w = np.array([r["a_plus_wh"] * 3600 / lp_s for r in recs])
    ax.bar(x, w, width=lp_s / 3600, align="edge", color="#3c78d8", label="meter A+ (mean W)")
    want = mr.load_profile(t0, t1, lp_s)
    ax.step([(t - t0) / 3600 for t in want], [v[0] * 3600 / lp_s for v in want.values()],
            where="pre", color="k", lw=0.6, label="reference")  # fmt: skip
    for tk, col in colors.items():
        ax.bar([0], [0], color=col, label=f"T{tk}")
    ax.set_xlim(0, (t1 - t0) / 3600)
    ax.set_xlabel(f"hours from {iso(t0)} UTC")
    ax.set_ylabel("W (15-min mean)")
    ax.set_title("Load profile through the application layer, tariff bands behind")
    ax.legend(loc="upper right", ncol=6, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def billing_summary(data: dict) -> list[str]:
    lines = ["billing data sets:"]
    for b in data["billing_sets"]:
        if "hex" in b:
            lines.append(f"  {b['hex']}")
            continue
        md = ", ".join(f"T{k + 1} {m['w']} W" for k, m in enumerate(b["max_demand"]))
        lines.append(
            f"  {b['time']} cause {b['cause']}: A+ {b['a_plus_wh']} Wh, A- {b['a_minus_wh']} Wh,"
            f" T1..T4 {b['tariff_wh']} Wh; max demand {md}"
        )
    lines.append("current period:")
    for k, v in data["billing"].items():
        lines.append(f"  {k} = {v}")
    return lines


def scenario_truth(seed: int, start: int, seconds: int) -> dict:
    """Per-second truth of the household scenario from UTC `start`: the generator expands to
    its segment file (MicroPython, docs/scenarios.md: a generated day depends only on its UTC
    date), which tools/scenario_ref.py (numpy) integrates."""
    from tools import scenario_ref

    code = (
        "import json\nfrom metrology import scenario\n"
        "print(json.dumps(scenario.expand(scenario.load('household', seed=%d, start=%d), %d)))"
        % (seed, start, seconds)
    )
    env = dict(mp_env())
    out = subprocess.run(  # a week is ~1 MB of segments while it is built
        [micropython_exe(), "-X", "heapsize=256M", "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError("scenario expansion failed: " + (out.stderr + out.stdout)[-500:])
    return scenario_ref.reference(json.loads(out.stdout), seconds)


def run(out: Path, t0: int, t1: int, seed: int, max_wall_s: float):
    """Steps 1-3: programme, simulated run, readings; returns (speed, readings)."""
    state = out / "meter"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    scen = {"scenario": "household", "scenario_seed": seed}
    print(f"sim-week: household seed {seed}, {iso(t0)} .. {iso(t1)} UTC, simulated time")
    # 1. the tariff programme, a day before the run (so nothing of it is metered in the run)
    with meter(state, "programme", sim_start=t0 - 86400, sim_until=t0 - 86400, **scen) as (s, _):
        programme(s)
    # 2. the run, in simulated time; 3. the readings through the application layer
    with meter(state, "run", sim_start=t0, sim_until=t1 + TAIL_S, **scen) as (s, _):
        speed = wait_clock(s, t1 + TAIL_S, max_wall_s)
        data = read_all(s)
    return speed, data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument(
        "--start", default="2026-06-29", help="UTC date or date-time the run starts (ISO)"
    )
    ap.add_argument("--seed", type=int, default=1, help="household scenario seed")
    ap.add_argument("--out", default="build/sim-week")
    ap.add_argument("--max-wall-s", type=float, default=3600.0)
    ap.add_argument("--no-png", action="store_true")
    ap.add_argument(
        "--reuse", action="store_true", help="compare the readings of OUT/read.json again, no run"
    )
    a = ap.parse_args(argv)
    out = Path(a.out)
    t0 = utc2000(_dt.datetime.fromisoformat(a.start))
    t1 = t0 + int(a.days * 86400)
    if a.reuse:
        saved = json.loads((out / "read.json").read_text())
        speed, data = saved["speed"], saved["read"]
        data["tables"] = {k: [tuple(r) for r in v] for k, v in data["tables"].items()}
    else:
        speed, data = run(out, t0, t1, a.seed, a.max_wall_s)
        (out / "read.json").write_text(json.dumps({"speed": speed, "read": data}, indent=1))
    print(
        f"  {speed['simulated_s']} simulated s in {speed['wall_s']} s of wall time"
        f" ({speed['simulated_s'] / max(speed['wall_s'], 0.1) / 86400 * 60:.1f} days a minute)"
    )
    # 4. the reference: the scenario's per-second truth, then registers, profiles, billing
    truth = scenario_truth(a.seed, t0, data["clock"] - t0 + 1)
    p = data["params"]
    tr = meter_ref.TariffRef(
        data["tables"]["weekly_tariff"],
        data["tables"]["annual_tariff"],
        data["tables"]["public_holidays"],
        data["plan"],
        p["utc_offset_min"],
        p["dst_mode"],
    )
    mr = meter_ref.MeterRef(truth, t0, tr.tariff_of, p["utc_offset_min"], p["dst_mode"])
    c = compare(data, mr, t0, t1)
    c.print()
    print("\n".join(billing_summary(data)))
    if not a.no_png:
        plot(out / "load_profile.png", data, mr, t0, t1)
        print(f"wrote {out / 'load_profile.png'}")
    report = {"speed": speed, "read": data, "compare": c.rows}
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    bad = c.failures()
    print(f"{len(c.rows) - len(bad)} of {len(c.rows)} figures within tolerance")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
