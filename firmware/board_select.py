"""Pick the board at boot without editing code.

Order: the MM_BOARD environment variable (unix port), then a `board.txt` beside main.py
(written by `make mpy BOARD=...`), then what the running port says about itself.
"""

import sys

BOARDS = ("unix_sim", "nucleo_f429zi", "esp32_devkitc")


def _from_file(base):
    try:
        with open((base + "/" if base else "") + "board.txt") as f:
            name = f.read().strip()
        return name or None
    except OSError:
        return None


def _from_env():
    try:
        import os

        return os.getenv("MM_BOARD") if hasattr(os, "getenv") else None
    except ImportError:
        return None


def _from_port():
    plat = sys.platform
    machine = getattr(sys.implementation, "_machine", "")
    if plat in ("linux", "darwin"):
        return "unix_sim"
    if plat == "esp32":
        return "esp32_devkitc"
    if plat == "pyboard" and "F429" in machine:
        return "nucleo_f429zi"
    raise RuntimeError("no board for platform %r machine %r" % (plat, machine))


def detect(base=""):
    name = _from_env() or _from_file(base) or _from_port()
    if name not in BOARDS:
        raise ValueError("unknown board %r (known: %s)" % (name, ", ".join(BOARDS)))
    return name


def load(name):
    """Import boards/<name>.py and return the module."""
    return __import__("boards." + name, None, None, (name,))
