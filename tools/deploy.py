"""`make deploy BOARD=<board> PORT=<serial>`: copy build/<board>/ to the board with mpremote
and reset it. PORT is a serial device (/dev/ttyACM0) or `auto` for the first board found."""

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.mpenv import ROOT  # noqa: E402


def mpremote():
    exe = Path(sys.prefix) / "bin" / "mpremote"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mpremote"]


def commands(board, port, tree):
    """The mpremote invocations, one per top-level entry, then a reset."""
    base = mpremote() + ["connect", port]
    cmds = []
    for entry in sorted(tree.iterdir()):
        flag = ["-r"] if entry.is_dir() else []
        cmds.append(base + ["fs", "cp"] + flag + [str(entry), ":"])
    cmds.append(base + ["reset"])
    return cmds


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("board")
    ap.add_argument("--port", default="auto")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    if a.board == "unix_sim":
        raise SystemExit("unix_sim runs on this PC: use `make repl` or `make sim`")
    tree = ROOT / "build" / a.board
    if not (tree / "board.txt").exists():
        raise SystemExit(f"{tree} is missing: run `make mpy BOARD={a.board}` first")
    for cmd in commands(a.board, a.port, tree):
        print(" ".join(cmd))
        if not a.dry_run:
            subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
