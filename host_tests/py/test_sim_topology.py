"""tools/topology.py generate(): any number of meters gives a connected layout with the asked
repeater levels (capped at meters - 1); tools/sim.py runs end to end on the smallest ones."""

import json
import subprocess
import sys

import pytest

from tools import topology as topogen
from tools.mpenv import ROOT

# every N that used to fail ("no layout found") is in 1..23
SIZES = list(range(1, 41)) + [60, 61, 119, 200]


def _check(topo, meters, levels):
    hops = topogen.hop_levels(topo)
    want = min(levels, meters - 1) + 1
    assert topo["generator"]["levels"] == want - 1
    assert len(topo["nodes"]) == meters + 1
    assert len(hops) == meters + 1, "not connected"
    assert max(hops.values()) == want
    assert all(k in hops.values() for k in range(1, want + 1)), "a hop count is empty"
    # the links are exactly what the radio model gives for the positions
    key = sorted((ln["a"], ln["b"], ln["atten_db"]) for ln in topo["links"])
    assert key == sorted(
        (ln["a"], ln["b"], ln["atten_db"]) for ln in topogen.links_from_positions(topo["nodes"])
    )


@pytest.mark.parametrize("seed", [1, 2, 7])
def test_any_meter_count_gives_a_layout(seed):
    for n in SIZES:
        _check(topogen.generate(n, 3, seed), n, 3)


@pytest.mark.parametrize("levels", [0, 1, 5])
def test_other_level_counts(levels):
    for n in (1, 2, 6, 7, 30):
        _check(topogen.generate(n, levels, 4), n, levels)


def test_same_seed_same_layout_other_seed_other_layout():
    a, b, c = topogen.generate(20, 3, 5), topogen.generate(20, 3, 5), topogen.generate(20, 3, 6)
    assert a == b
    assert a["nodes"] != c["nodes"]


def test_zero_meters_refused():
    with pytest.raises(ValueError):
        topogen.generate(0)
    p = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sim.py"), "--meters", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 2 and "at least 1" in p.stderr


@pytest.mark.parametrize("meters", [1, 3])
def test_make_sim_few_meters_end_to_end(tmp_path, meters):
    p = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sim.py"), "--meters", str(meters), "--quiet",
         "--out", str(tmp_path), "--max-wall-s", "120"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{meters - 1} repeater levels" in p.stdout
    res = json.loads((tmp_path / "network.json").read_text())
    assert res["ground_truth"]["discovered"] == meters
    assert res["ground_truth"]["status_read"] == meters
    assert sorted(n["hops"] for n in res["nodes"]) == list(range(1, meters + 1))
    svg = (tmp_path / "network.svg").read_text()  # the map needs no third-party package
    assert svg.startswith("<svg") and svg.count("<circle") >= meters
    assert all(f">M{i}<" in svg for i in range(1, meters + 1))
