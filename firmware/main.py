"""Boot: set the import path, pick the board, build the meter, run the asyncio loop.

Unix:  micropython firmware/main.py [--config meter.json] [--set key=value ...] [--repl]
                                    [--board NAME] [--help]
Board: runs at reset after boot.py; reads config.json and board.txt beside this file.
Every mistake in the arguments or the config ends in one line "config error: ..." (exit 2).
"""

import sys

USAGE = """usage: micropython firmware/main.py [options]
  --config FILE     meter configuration (JSON object; keys: config.py DEFAULTS)
  --set KEY=VALUE   override one config value (numbers, true/false, null as in JSON)
  --board NAME      board module to build (default: MM_BOARD, board.txt, then the port)
  --repl            keep an asyncio REPL on stdin with the live `meter`
  --help            show this text"""


class UsageError(ValueError):
    pass


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
    opts = {"config": None, "repl": False, "board": None, "set": {}, "help": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--config", "--board", "--set"):
            if i + 1 >= len(argv):
                raise UsageError("%s needs a value (see --help)" % a)
            v = argv[i + 1]
            if a == "--set":  # one config value; typed in _typed() from the default's type
                key, eq, value = v.partition("=")
                if not eq or not key:
                    raise UsageError("--set needs KEY=VALUE (got %r)" % v)
                opts["set"][key] = value
            else:
                opts[a[2:]] = v
            i += 2
            continue
        if a == "--repl":
            opts["repl"] = True
        elif a in ("--help", "-h"):
            opts["help"] = True
        else:
            raise UsageError("unknown argument %r (see --help)" % a)
        i += 1
    return opts


def _typed(defaults, key, value):
    """A --set value: kept as text where the default is text (hex keys), else JSON (numbers,
    null, true/false), falling back to text (validation then names a wrong type)."""
    import json

    if isinstance(defaults.get(key), str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def build(argv=None, base=None, reset=None):
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
    try:
        name = opts["board"] or board_select.detect(base)
    except (ValueError, RuntimeError) as e:
        raise UsageError(str(e))
    if name not in board_select.BOARDS:
        raise UsageError("unknown board %r (known: %s)" % (name, ", ".join(board_select.BOARDS)))
    board = board_select.load(name)
    if _boot_slot(board, cfg):
        import board_select  # noqa: F811 -- the slot's own modules from here on

        board = board_select.load(name)
    hw = board.build(cfg)

    from app import Meter

    return Meter(hw, cfg, reset=reset or _reset_for(name), strict=cfg["strict"])


def _boot_slot(board, cfg):
    """Software download (docs/download.md §3.1): run the image the boot selector names. Returns
    the slot number; 0 = the factory tree this file belongs to (nothing changes)."""
    devices = getattr(board, "slot_devices", None)
    if devices is None:
        return 0
    import config
    from dl import bootsel

    key = config.raw(cfg, "key_download")
    return bootsel.boot(board.store_flash(cfg), devices(cfg), board.NAME, key)


def _reset_for(board_name):
    """machine.reset on a board; on unix_sim the Meter's default (leave the process)."""
    if board_name == "unix_sim":
        return None
    import machine

    return machine.reset


def main():
    import asyncio

    _setup_path(_base())
    import config

    argv = sys.argv[1:]
    if "--help" in argv or "-h" in argv:
        print(USAGE)
        return
    try:
        meter = build(argv)
    except (config.ConfigError, UsageError) as e:
        print("config error:", e)
        sys.exit(2)
    if meter.radio_off:
        print(meter.radio_off)
    try:
        asyncio.run(meter.open())
    except OSError as e:
        print("config error: cannot open the PLC link (%s): %s" % (_phy_where(meter.cfg), e))
        sys.exit(2)
    console = None
    if meter.cfg["repl"]:
        from console import Console

        ns = {"meter": meter, "hw": meter.hw, "asyncio": asyncio}
        print("meter %s on %s; `meter` is live, Ctrl-D leaves" % (meter.aca.hex(), meter.hw.name))
        console = Console(ns)
    asyncio.run(meter.run(console))


def _phy_where(cfg):
    for k in ("plc_listen", "medium", "modem"):
        if cfg[k] is not None:
            return "%s %s" % (k, cfg[k])
    return "board PHY"


if __name__ == "__main__":
    main()
