"""Shared by the document generators (tools/gen_*.py): run a script on the firmware under Unix
MicroPython, and write a generated page or check that the committed one is current."""

import subprocess
import sys

from tools.mpenv import ROOT, micropython_exe, mp_env


def run_mp(script):
    """stdout of `micropython -c script` with the firmware's import path; exits on failure."""
    p = subprocess.run(
        [micropython_exe(), "-c", script], env=mp_env(), cwd=ROOT, capture_output=True, text=True
    )
    if p.returncode:
        raise SystemExit(p.stdout + p.stderr)
    return p.stdout


def write_or_check(path, text, check):
    """Write text to path, or with check return 1 (and say so) when the file differs."""
    if check:
        if path.read_text() != text:
            print("%s is stale: run `make docs`" % path.relative_to(ROOT), file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    return 0
