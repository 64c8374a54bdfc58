"""Boot: set the import path, pick the board, build the meter, run the asyncio loop.

Unix:  micropython firmware/main.py [--config meter.json] [--set key=value ...] [--repl]
                                    [--board NAME]
Board: runs at reset after boot.py; reads config.json and board.txt beside this file.
"""

import sys


def _base():
    f = globals().get("__file__", "")
    return f.rsplit("/", 1)[0] if "/" in f else ""


def _setup_path(base):
    prefix = base + "/" if base else ""
    # lib/ first (portable layers), then this folder (app, drivers), then the repo root when
    # run from a source checkout (boards/ lives there; on a board it is copied beside main.py).
    for p in (prefix + "..", base or ".", prefix + "lib"):
        if p not in sys.path:
            sys.path.insert(0, p)


def _args(argv):
    opts = {"config": None, "repl": False, "board": None, "set": {}}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--config", "--board"):
            opts[a[2:]] = argv[i + 1]
            i += 2
            continue
        if a == "--set":  # one config value; typed in build() from the default's type
            key, _, value = argv[i + 1].partition("=")
            opts["set"][key] = value
            i += 2
            continue
        if a == "--repl":
            opts["repl"] = True
        else:
            raise SystemExit("unknown argument %r" % a)
        i += 1
    return opts


def _typed(defaults, key, value):
    """A --set value: kept as text where the default is text (hex keys), else JSON (numbers,
    null, true/false), falling back to text."""
    import json

    if isinstance(defaults.get(key), str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def build(argv=None, base=None):
    """Build and return the Meter without running it (tests and the REPL use this)."""
    base = _base() if base is None else base
    _setup_path(base)
    import board_select
    import config

    opts = _args(argv if argv is not None else sys.argv[1:])
    path = opts["config"]
    if path is None and not sys.platform.startswith(("linux", "darwin")):
        path = (base + "/" if base else "") + "config.json"
    overrides = {}
    for key, value in opts["set"].items():
        overrides[key] = _typed(config.DEFAULTS, key, value)
    if opts["repl"]:
        overrides["repl"] = True
    cfg = config.load(path, overrides)
    name = opts["board"] or board_select.detect(base)
    board = board_select.load(name)
    hw = board.build(cfg)

    from app import Meter

    return Meter(hw, cfg)


def main():
    import asyncio

    _setup_path(_base())
    import config

    try:
        meter = build()
    except config.ConfigError as e:
        print("config error:", e)
        sys.exit(2)
    console = None
    if meter.cfg.get("repl"):
        from console import Console

        ns = {"meter": meter, "hw": meter.hw, "asyncio": asyncio}
        print("meter %s on %s; `meter` is live, Ctrl-D leaves" % (meter.aca.hex(), meter.hw.name))
        console = Console(ns)
    asyncio.run(meter.run(console))


if __name__ == "__main__":
    main()
