"""`make sim-week` shortened for CI: six simulated hours of the household scenario on a real
unix_sim meter, read through the application layer and checked figure by figure against the
independent numpy computation (tools/sim_week.py, tools/meter_ref.py). The window holds a
local midnight and the scheduled monthly billing close (1 July 00:00 CEST = 30 June 22:00 UTC),
so daily snapshots, a billing data set and the maximum demand are compared too."""

import json

from tools import sim_week


def test_six_hours_match_the_reference(tmp_path):
    rc = sim_week.main(
        ["--start", "2026-06-30T18:00", "--days", "0.25", "--out", str(tmp_path), "--no-png"]
    )
    rep = json.loads((tmp_path / "report.json").read_text())
    bad = [r for r in rep["compare"] if not r["ok"]]
    assert rc == 0 and not bad, bad
    rows = {r["what"]: r for r in rep["compare"]}
    assert rows["load profile: full intervals recorded"]["meter"] == 23  # 24 minus the first
    assert rows["daily snapshots at local midnight"]["meter"] == 1
    sets = [b for b in rep["read"]["billing_sets"] if b.get("cause") == 1]
    assert len(sets) == 1 and sets[0]["time"] == "2026-06-30T22:00:00Z"
    assert any(k.startswith("billing 2026-06-30 22:00 T") for k in rows)
    energy = [r for r in rep["compare"] if r["pct"]]  # within 0.01 % or the 1 Wh quantum
    assert energy and all(abs(r["err"]) <= max(r["ref"] * 1e-4, 1.0) for r in energy)
