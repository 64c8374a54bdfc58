"""The concentrator reads energies, profiles and billing data through the application layer
(tools/concentrator.py energy / profile / billing, decoded with tools/dcu_profiles.py) from a
real unix_sim meter that ran an hour of the household scenario in simulated time."""

import json
import time

from direct_meter import running_meter

from tools import concentrator as dcu
from tools import sim_week

S = sim_week.utc2000(sim_week._dt.datetime(2026, 6, 30, 8, 0))


def _wait(port, until):
    link = dcu.DirectLink("127.0.0.1", port, connect_timeout_s=30)
    c = dcu.Concentrator(link, opts=dcu.Options(tc_ms=20))
    s = dcu.MeterSession(c, sim_week.ACA, [], None, dcu.State(None))
    try:
        for _ in range(600):
            if int.from_bytes(s.read("clock"), "big") >= until:
                return
            time.sleep(0.5)
        raise AssertionError("the meter did not reach the end of its simulated hour")
    finally:
        link.close()


def _cli(port, capsys, *args):
    argv = ["--direct", f"127.0.0.1:{port}", "--meter", sim_week.ACA.hex(), "--tc-ms", "20"]
    argv += ["--state", "", "--json", *args]
    assert dcu.main(argv) == 0
    return json.loads(capsys.readouterr().out)[sim_week.ACA.hex()]


def test_energy_profiles_and_billing_decoded(tmp_path, capsys):
    cfg = {"sim_start": S, "sim_until": S + 3600 + 30, "tc_ms": 20, "aca": sim_week.ACA.hex()}
    with running_meter(tmp_path, **cfg) as m:
        _wait(m.port, S + 3600 + 30)
        energy = _cli(m.port, capsys, "energy")
        lp = _cli(m.port, capsys, "profile", "load")
        mp = _cli(m.port, capsys, "profile", "measurand")
        sel = _cli(
            m.port, capsys, "profile", "load", "--from", str(S + 1800), "--to", str(S + 2700)
        )
        bill = _cli(m.port, capsys, "billing")
    regs = {v["reg"]: v["value"] for v in energy["values"]}
    assert regs["active_import_wh"] > 0
    recs = lp["records"]
    assert [r["t"] for r in recs] == [S + 900 * k for k in range(1, 5)]
    assert recs[0]["flags"] == ["PAR", "DST"]  # the first second of the run precedes it
    assert all(r["flags"] == ["DST"] and r["channels"] == 15 for r in recs[1:])
    # the records add up to the register over their span (whole Wh, no drift)
    assert sum(r["a_plus_wh"] for r in recs) <= regs["active_import_wh"]
    assert [r["t"] for r in sel["records"]] == [S + 1800, S + 2700]
    assert len(mp["records"]) == 6 and all(2000 < r["v_dv"] < 2500 for r in mp["records"])
    vals = {v["reg"]: v["value"] for v in bill["values"]}
    assert vals["period_import_wh"] == regs["active_import_wh"]  # no close yet
    assert bill["sets"] == []
