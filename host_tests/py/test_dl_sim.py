"""`make sim-upgrade` as a system test: the medium, real `micropython firmware/main.py` meters
(restarted on their flash when they reset, rejoining the medium) and the concentrator's upgrade.
Every meter must report the new version read back through the application layer; an image
failing its selftest must be rolled back by every meter on its own."""

import json

from tools import sim_upgrade

FACTORY = sim_upgrade.FACTORY_VERSION


def _run(tmp_path, *extra):
    out = tmp_path / "sim"
    rc = sim_upgrade.main(["--meters", "3", "--levels", "1", "--out", str(out)] + list(extra))
    d = json.loads((out / "upgrade.json").read_text())
    return rc, d["summary"], d["meters"]


def test_every_meter_runs_the_new_version(tmp_path):
    rc, summary, meters = _run(tmp_path)
    assert rc == 0
    assert summary["discovered"] == 3 and summary["running_new"] == 3
    assert summary["restarts"] == 3  # one reset each, into the new image
    assert summary["relays"] == 1 and summary["flood_passes"][0] == summary["blocks"]
    # the meters behind the repeater told what they hear (register 0x0205), and the plan
    # made of it has one relay sending in the slot after the concentrator's
    assert summary["neighbour_tables"] >= 1
    assert summary["plans"][0] == {"period": 2, "relays": 1, "colours": {"1": 1}}
    # a normal read (status word, read key) every 50 blocks: the flood leaves room for them
    assert summary["normal_reads_during_flood"] == {"ok": summary["blocks"] // 50, "failed": 0}
    for r in meters.values():
        assert (r["version"], r["slot"], r["trial"], r["state"]) == (
            FACTORY + 1,
            1,
            False,
            "running",
        )
        assert r["error"] is None and r["download"] == "ready"


def test_an_image_failing_its_selftest_is_rolled_back_everywhere(tmp_path):
    rc, summary, meters = _run(tmp_path, "--broken")
    assert rc == 0
    assert summary["rolled_back"] == 3
    assert summary["restarts"] == 6  # into the broken image, then the roll-back boot
    for r in meters.values():
        assert (r["version"], r["slot"], r["trial"], r["state"]) == (
            FACTORY,
            0,
            False,
            "rolled back",
        )
