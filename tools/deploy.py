"""`make deploy BOARD=<board> PORT=<serial> [CONFIG=my.json]`: make the board's filesystem hold
exactly build/<board>/ (from `make mpy`), plus config.json, then reset it. With mpremote:

1. list every file and folder on the board (`exec` of a small walker) - this is also the check
   that a board running MicroPython answers on PORT (`auto` = the first USB board found);
2. remove what is not in the new tree (`fs rm`, then `fs rmdir` deepest first): a stale
   `x.py` would shadow the new `x.mpy`. config.json and `--keep` paths stay;
3. copy each top-level entry of the tree (`fs cp -r`; mpremote skips unchanged files);
4. copy `--config FILE` (else ./config.json at the repo root, if there) to :config.json; with
   neither, the board keeps its own;
5. `reset`.

Errors (no board, port busy, a failing copy) end in one line saying what to do, exit code 1.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.mpenv import ROOT  # noqa: E402

# Printed by the board: "D path" or "F path", relative to the working directory, where
# `fs cp x :` puts x (/flash on stm32, / on esp32).
LIST_SCRIPT = """import os
def _w(d):
    for e in os.ilistdir(d or "."):
        p = d + "/" + e[0] if d else e[0]
        if e[1] & 0x4000:
            print("D", p)
            _w(p)
        else:
            print("F", p)
_w("")
"""
KEEP = ("config.json",)


class DeployError(Exception):
    """A step failed; the message says what to do."""


def mpremote():
    exe = Path(sys.prefix) / "bin" / "mpremote"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mpremote"]


def run_subprocess(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def local_tree(tree):
    """(files, dirs) of the tree as posix paths relative to it."""
    files, dirs = set(), set()
    for p in tree.rglob("*"):
        (dirs if p.is_dir() else files).add(p.relative_to(tree).as_posix())
    return files, dirs


def parse_listing(text):
    files, dirs = set(), set()
    for line in text.splitlines():
        kind, _, path = line.strip().partition(" ")
        if kind == "F" and path:
            files.add(path)
        elif kind == "D" and path:
            dirs.add(path)
    return files, dirs


def stale(remote, local, keep=KEEP):
    """Remote files, then folders (deepest first), that the new tree does not have."""
    rfiles, rdirs = remote
    lfiles, ldirs = local
    files = sorted(f for f in rfiles - lfiles if f not in keep)
    kept_dirs = {k.rsplit("/", 1)[0] for k in keep if "/" in k}
    dirs = sorted(
        (d for d in rdirs - ldirs if d not in kept_dirs),
        key=lambda d: (-d.count("/"), d),
    )
    return files, dirs


def _explain(port, rc, err):
    err = err.strip().splitlines()[-1] if err.strip() else f"exit code {rc}"
    if "no device found" in err:
        return (
            f"no board found (PORT={port}): connect a board running MicroPython by USB, or name "
            "its port, e.g. `make deploy PORT=/dev/ttyACM0` (`.venv/bin/mpremote devs` lists them)"
        )
    if "failed to access" in err or "could not enter raw repl" in err:
        return (
            f"cannot talk to a board on {port}: {err} - is the port right, is MicroPython on it, "
            "is another program (a terminal, mpremote repl) holding it?"
        )
    return f"mpremote failed on {port}: {err}"


def deploy(board, port, tree, config=None, keep=KEEP, run=run_subprocess, say=print):
    """Bring the board on `port` to `tree` (+ config). run(cmd) -> (rc, stdout, stderr)."""
    base = mpremote() + ["connect", port]

    def step(args, label=None):
        say(label or " ".join(args))
        rc, out, err = run(base + args)
        if rc != 0:
            raise DeployError(_explain(port, rc, err))
        return out

    remote = parse_listing(step(["exec", LIST_SCRIPT], f"list the files on the board ({port})"))
    files, dirs = stale(remote, local_tree(tree), keep)
    for f in files:
        step(["fs", "rm", ":" + f])
    for d in dirs:
        step(["fs", "rmdir", ":" + d])
    for entry in sorted(tree.iterdir()):
        step(["fs", "cp"] + (["-r"] if entry.is_dir() else []) + [str(entry), ":"])
    if config is not None:
        step(["fs", "cp", str(config), ":config.json"])
    elif "config.json" not in remote[0]:
        say(
            "note: the board has no config.json; main.py will refuse to start without one "
            "(give CONFIG=my.json)"
        )
    step(["reset"])
    return files, dirs


def pick_config(arg, root=ROOT):
    """The config to copy: the one given, else config.json at the repo root if present (git
    ignores it: it holds keys), else None (the board keeps its own)."""
    if arg:
        return Path(arg)
    default = root / "config.json"
    return default if default.is_file() else None


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("board")
    ap.add_argument("--port", default="auto")
    ap.add_argument("--config", help="copied to :config.json (default: config.json here)")
    ap.add_argument("--keep", action="append", default=[], help="board path not to remove")
    a = ap.parse_args(argv)
    if a.board == "unix_sim":
        print("deploy: unix_sim runs on this PC: use `make repl` or `make sim`", file=sys.stderr)
        return 2
    tree = ROOT / "build" / a.board
    if not (tree / "board.txt").exists():
        print(f"deploy: {tree} is missing: run `make mpy BOARD={a.board}`", file=sys.stderr)
        return 2
    config = pick_config(a.config)
    if config is not None and not a.config:
        print(f"deploy: copying {config} to :config.json (CONFIG=file picks another)")
    if config is not None:
        try:
            json.loads(config.read_text())
        except (OSError, ValueError) as e:
            print(f"deploy: config {config}: {e}", file=sys.stderr)
            return 2
    try:
        files, dirs = deploy(a.board, a.port, tree, config, KEEP + tuple(a.keep))
    except DeployError as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 1
    print(f"deploy: {a.board} on {a.port}: removed {len(files)} stale files, {len(dirs)} folders")
    return 0


if __name__ == "__main__":
    sys.exit(main())
