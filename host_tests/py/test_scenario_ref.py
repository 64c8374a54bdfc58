"""tools/scenario_ref.py (numpy, written from docs/scenarios.md) against the firmware's own
reading of the same files (metrology.scenario under MicroPython): per-second active and reactive
energy and mean frequency for every generator, and the household's first and second day."""

import json

import numpy as np
import pytest
from stpm_ref import run_mp

from tools import scenario_ref

MP = r"""
import json, sys
from metrology import scenario
sc = scenario.load(json.load(open(sys.argv[1])))
st = scenario.State()
prev = 0.0
for k in range(int(sys.argv[2])):
    p, q = sc.integrate(k, k + 1)
    sc.state(k + 1, st)
    print(repr(p), repr(q), repr(st.cycles - prev))
    prev = st.cycles
"""


@pytest.mark.parametrize(
    "name,seconds,start",
    [
        ("steps", 600, 0),
        ("harmonics", 600, 0),
        ("sags", 600, 0),
        ("interruptions", 600, 0),
        ("export", 600, 0),
        ("drift", 600, 0),
        ("mixed", 600, 0),
        ("household", 3 * 3600, 6 * 3600),  # the morning
    ],
)
def test_reference_matches_firmware(tmp_path, name, seconds, start):
    doc = scenario_ref.generate(name, 4, start + seconds)
    ref = scenario_ref.reference(doc, start + seconds)
    (tmp_path / "s.json").write_text(json.dumps(doc))
    (tmp_path / "t.py").write_text(MP)
    out = run_mp(tmp_path / "t.py", tmp_path / "s.json", start + seconds)
    got = np.array([[float(x) for x in line.split()] for line in out.splitlines()])
    sl = slice(start, start + seconds)
    assert np.allclose(got[sl, 0], ref["ep_ws"][sl], rtol=1e-9, atol=1e-6)
    assert np.allclose(got[sl, 1], ref["eq_vars"][sl], rtol=1e-9, atol=1e-6)
    assert np.allclose(got[sl, 2], ref["f"][sl], rtol=1e-9, atol=1e-9)
    assert np.abs(ref["ep_ws"][sl]).sum() > 0


def test_household_day_and_midnight(tmp_path):
    doc = scenario_ref.generate("household", 2, 2 * 86400)
    ref = scenario_ref.reference(doc, 2 * 86400)
    day1 = ref["a_plus_ws"][:86400].sum() / 3.6e6
    day2 = ref["a_plus_ws"][86400:].sum() / 3.6e6
    assert 3 < day1 < 9 and 3 < day2 < 9 and day1 != day2  # kWh, a different day each day
    assert ref["a_minus_ws"].sum() == 0  # no export in a household without panels
    # each day has exactly 4 320 000 line cycles, so the phase runs on across midnight
    assert abs(ref["f"][:86400].sum() - 4320000) < 1e-6
    night = ref["p"][2 * 3600 : 4 * 3600]  # 03:00-05:00 CET: standby and the fridge
    assert 30 < night.min() and night.max() < 250
    evening = ref["p"][18 * 3600 : 21 * 3600]  # 19:00-22:00 CET: cooking
    assert evening.max() > 2000
