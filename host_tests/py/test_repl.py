"""`make repl`: the firmware boots on the unix port and the running meter is reachable."""

import json
import subprocess

from tools import repl
from tools.mpenv import ROOT, mp_env


def boot(tmp_path, lines):
    cfg = tmp_path / "meter.json"
    cfg.write_text(json.dumps({"aca": "0a0b0c0d0e0f", "state_dir": str(tmp_path / "state")}))
    p = subprocess.run(
        repl.argv("unix_sim", cfg),
        input="\n".join(lines) + "\n",
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_repl_reaches_running_meter(tmp_path):
    out = boot(tmp_path, ["meter.hw.name", "meter.aca.hex()", "meter.status()['boots']"])
    assert "meter 0a0b0c0d0e0f on unix_sim" in out
    assert "'unix_sim'" in out and "'0a0b0c0d0e0f'" in out
    assert "meter> 1\n" in out


def test_boot_count_survives_restart(tmp_path):
    boot(tmp_path, ["meter.boots"])
    out = boot(tmp_path, ["meter.boots", "1/0", "meter.boots + 40"])
    assert "meter> 2\n" in out
    assert "ZeroDivisionError" in out  # errors are shown and the meter keeps running
    assert "meter> 42\n" in out
