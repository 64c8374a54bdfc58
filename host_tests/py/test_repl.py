"""`make repl`: the firmware boots on the unix port and the running meter is reachable."""

import json
import subprocess

from tools import repl
from tools.mpenv import ROOT, mp_env


def run_main(tmp_path, extra, lines):
    cfg = tmp_path / "meter.json"
    cfg.write_text(json.dumps({"aca": "0a0b0c0d0e0f", "state_dir": str(tmp_path / "state")}))
    return subprocess.run(
        repl.argv("unix_sim", cfg) + extra,
        input="\n".join(lines) + "\n",
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def boot_with(tmp_path, extra, lines):
    p = run_main(tmp_path, extra, lines)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def boot(tmp_path, lines):
    return boot_with(tmp_path, [], lines)


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


def test_set_overrides_config_and_bad_values_are_refused(tmp_path):
    out = boot_with(
        tmp_path,
        ["--set", "serial=ZX81", "--set", "tel_ms=35"],
        ["meter.cfg['serial'], meter.cfg['tel_ms']"],
    )
    assert "('ZX81', 35)" in out
    p = run_main(tmp_path, ["--set", "aca=12"], [])
    assert p.returncode == 2 and "config error: aca must be 6 bytes" in p.stdout + p.stderr
