"""`make repl`: boot the firmware on Unix MicroPython with the unix_sim board and leave an
interactive prompt where the running meter is `meter` (the loop keeps running meanwhile)."""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.mpenv import FIRMWARE, ROOT, micropython_exe, mp_env  # noqa: E402


def argv(board, config=None, settings=()):
    cmd = [micropython_exe(), str(FIRMWARE / "main.py"), "--repl", "--board", board]
    if config:
        cmd += ["--config", str(config)]
    for s in settings:
        cmd += ["--set", s]
    return cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("board", nargs="?", default="unix_sim")
    ap.add_argument("--config")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set plc_listen=7001 to attach a concentrator",
    )
    a = ap.parse_args()
    if a.board != "unix_sim":
        raise SystemExit("on a real board: `mpremote connect PORT repl` (see README)")
    os.chdir(ROOT)
    cmd = argv(a.board, a.config, a.set)
    os.execve(cmd[0], cmd, mp_env())


if __name__ == "__main__":
    main()
