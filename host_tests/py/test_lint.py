"""ruff (pinned) checks and formats all Python in the repo."""

import subprocess
import sys
from pathlib import Path

from tools.mpenv import ROOT


def ruff():
    exe = Path(sys.prefix) / "bin" / "ruff"
    return str(exe) if exe.exists() else "ruff"


def test_ruff_check():
    p = subprocess.run([ruff(), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_ruff_format():
    p = subprocess.run(
        [ruff(), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert p.returncode == 0, p.stdout + p.stderr
