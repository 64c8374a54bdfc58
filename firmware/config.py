"""Meter configuration: defaults, JSON loading, validation, and the typed values layers get.

A unix_sim meter is started as `micropython firmware/main.py --config meter.json`; on a board
the file is `config.json` beside main.py. `load()` checks everything once at boot and raises
ConfigError with one readable line (unknown key, wrong type, out of range, missing or broken
file); after that, layers receive typed values (`mac_params(cfg)`, `raw(cfg, key)`) and never
look keys up themselves. `radio_refusal(cfg, board)` names the demo keys or ACA that keep a real
board's radio off.
"""

import json

DEMO_ACA = "010203040506"
DEMO_KEY_WRITE = "000102030405060708090a0b0c0d0e0f"
DEMO_KEY_READ = "101112131415161718191a1b1c1d1e1f"
DEMO_KEY_DOWNLOAD = "202122232425262728292a2b2c2d2e2f"

DEFAULTS = {
    # 6-byte Absolute Communication Address, hex, in the order the bytes go on the wire
    # (see docs/datalink.md for the byte-order choice).
    "aca": DEMO_ACA,
    "serial": "MM0000000001",
    "manufacturer": "OMM",  # FLAG id used on the optical port
    # AES-128 keys, hex. K1 = write key, K2 = read key. Tests and the simulator override them;
    # real boards keep the radio off with these demo values (radio_refusal).
    "key_write": DEMO_KEY_WRITE,
    "key_read": DEMO_KEY_READ,
    # software download key (docs/download.md §3): authenticates images until the utility
    # writes its own with the write key (register 0x1004, kept in the store)
    "key_download": DEMO_KEY_DOWNLOAD,
    "phase": 1,
    "sca": None,  # section address, 6 bytes hex, once the concentrator assigns one
    "tel_ms": 20,  # elaboration time (facts §5)
    "tc_ms": 250,  # RC time slot
    "add_ms": 100,  # our margin per exchange (docs/datalink.md)
    "dup_ms": 200,  # duplicate-suppression window
    "aca_al0": 0,  # which wire byte of the ACA is the AL's ACA_AL[0] (unverified, docs)
    # display (docs/display.md): "segment" (HT1621 glass) or "dots" (SSD1306), None = the
    # board's default; unix_sim: print every new screen on the terminal
    "display": None,
    "display_echo": False,
    # unix_sim only: where the simulated peripherals live
    "state_dir": "build/sim/meter",
    "medium": None,  # "127.0.0.1:7000" to join the simulated medium
    "plc_listen": None,  # TCP port on 127.0.0.1 for a direct concentrator link
    "modem": None,  # "host:port" of tools/modem_sim.py: the certified-modem PHY backend
    "plc_backend": None,  # boards: "soft" or "modem"; None = the board file's default
    "optical_port": None,  # TCP port on 127.0.0.1 for the optical probe
    # unix_sim simulated time (drivers/sim/simclock.py): start at this UTC second (since 2000)
    # and jump from wakeup to wakeup; from sim_until on, follow the host clock
    "sim_start": None,
    "sim_until": None,
    # optical port (docs/optical.md): wait after the option select before the first answer
    # at the new rate; programming-mode password (ASCII, None = no programming mode); the
    # readout list ("CODE:SOURCE" strings, None = optical.readout.DEFAULT); partial-block size
    "optical_reaction_ms": 1000,
    "optical_password": None,
    "optical_readout": None,
    "optical_block": 0,
    # metering front-end (docs/metrology.md): "stpm" = the STPM3x driver (on unix_sim against the
    # simulated IC), "adc" = the direct-ADC path; unix_sim's load scenario (docs/scenarios.md):
    # a generator name or a segment file path ending in .json, and the generator's seed
    "metrology": "stpm",
    "scenario": "household",
    "scenario_seed": 0,
    "optical_smitp": True,  # mode F: the SMITP local profile (docs/optical.md)
    "repl": False,
    "strict": False,  # tests: a fault the firmware would record and survive ends the program
    "seed": None,
}

_HEX_LEN = {"aca": 6, "key_write": 16, "key_read": 16, "key_download": 16, "sca": 6}
# integer keys: (lowest, highest)
_INT_RANGE = {
    "phase": (1, 3),
    "tel_ms": (1, 1000),
    "tc_ms": (1, 10000),
    "add_ms": (0, 60000),
    "dup_ms": (0, 60000),
    "aca_al0": (0, 5),
    "plc_listen": (1, 65535),
    "optical_port": (1, 65535),
    "optical_reaction_ms": (20, 1500),  # IEC 62056-21 tr: 20 (or 200) .. 1500 ms
    "optical_block": (0, 1024),
    "seed": (0, 0x7FFFFFFF),
    "scenario_seed": (0, 0x7FFFFFFF),
    "sim_start": (0, 0xFFFFFFFF),
    "sim_until": (0, 0xFFFFFFFF),
}
_TEXT = ("serial", "manufacturer", "state_dir", "medium", "modem", "scenario")
_CHOICES = {
    "plc_backend": ("soft", "modem"),
    "metrology": ("stpm", "adc"),
    "display": ("segment", "dots"),
}
_NULLABLE = (
    "sca",
    "medium",
    "plc_listen",
    "modem",
    "plc_backend",
    "display",
    "optical_port",
    "optical_password",
    "optical_readout",
    "seed",
    "sim_start",
    "sim_until",
)
_HOST_PORT = ("medium", "modem")


class ConfigError(ValueError):
    pass


def _check_hex(k, v):
    try:
        b = bytes.fromhex(v)
    except (TypeError, ValueError):
        raise ConfigError("%s must be hex text (got %r)" % (k, v))
    if len(b) != _HEX_LEN[k]:
        raise ConfigError(
            "%s must be %d bytes (%d hex digits)" % (k, _HEX_LEN[k], 2 * _HEX_LEN[k])
        )


def _check_sca(v):
    from mac.address import check_sca

    try:
        check_sca(bytes.fromhex(v))
    except ValueError as e:
        raise ConfigError("sca: %s" % e)


def _check_int(k, v):
    if not isinstance(v, int) or isinstance(v, bool):
        raise ConfigError("%s must be an integer (got %r)" % (k, v))
    lo, hi = _INT_RANGE[k]
    if not lo <= v <= hi:
        raise ConfigError("%s must be %d..%d (got %d)" % (k, lo, hi, v))


def _check_port_text(k, v):
    host, sep, port = v.rpartition(":")
    if k == "medium" and host.startswith("sample:"):
        host = host[7:]
    if not sep or not host:
        raise ConfigError('%s must be "host:port" (got %r)' % (k, v))
    try:
        p = int(port)
    except ValueError:
        p = 0
    if not 1 <= p <= 65535:
        raise ConfigError("%s: port must be 1..65535 (got %r)" % (k, port))


def _check_scenario(v):
    if v.endswith(".json") or v == DEFAULTS["scenario"]:
        return  # a file is read (and checked) when the simulated front-end loads it
    from metrology.scenario_gen import GENERATORS

    if v not in GENERATORS:
        raise ConfigError(
            "scenario must be a .json file or one of %s (got %r)"
            % (", ".join(sorted(GENERATORS)), v)
        )


def _check_optical_password(v):
    # digits given with --set arrive as a number; optical.build takes str() of it
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str) or not 1 <= len(v) <= 32:
        raise ConfigError("optical_password must be 1..32 characters (got %r)" % (v,))
    for c in v:
        if not "!" <= c <= "~":
            raise ConfigError("optical_password: printable ASCII without spaces only")


def validate(cfg):
    """Check every value's type and range; return cfg. Raises ConfigError (one line)."""
    for k in cfg:
        if k not in DEFAULTS:
            raise ConfigError("unknown config key %r" % k)
    for k in DEFAULTS:
        v = cfg[k]
        if v is None and k in _NULLABLE:
            continue
        if k in _HEX_LEN:
            _check_hex(k, v)
            if k == "sca":
                _check_sca(v)
        elif k in _INT_RANGE:
            _check_int(k, v)
        elif k in _CHOICES:
            if v not in _CHOICES[k]:
                raise ConfigError("%s must be one of %s (got %r)" % (k, ", ".join(_CHOICES[k]), v))
        elif k in _TEXT:
            if not isinstance(v, str) or not v:
                raise ConfigError("%s must be non-empty text (got %r)" % (k, v))
            if k in _HOST_PORT:
                _check_port_text(k, v)
            if k == "scenario":
                _check_scenario(v)
        elif k == "optical_password":
            _check_optical_password(v)
        elif k == "optical_readout":
            if not isinstance(v, list) or not all(isinstance(e, str) and ":" in e for e in v):
                raise ConfigError(
                    'optical_readout must be a list of "CODE:SOURCE" (got %r)' % (v,)
                )
        elif k in ("repl", "strict", "display_echo"):
            if not isinstance(v, bool):
                raise ConfigError("%s must be true or false (got %r)" % (k, v))
    if cfg["sim_start"] is not None and cfg["medium"] is not None:
        raise ConfigError("sim_start: the medium owns simulated time, give one of the two")
    if cfg["sim_until"] is not None and (
        cfg["sim_start"] is None or cfg["sim_until"] < cfg["sim_start"]
    ):
        raise ConfigError("sim_until needs sim_start and must not be before it")
    return cfg


def _read(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        raise ConfigError("cannot read config file %s" % path)
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError("config file %s is not valid JSON" % path)
    if not isinstance(data, dict):
        raise ConfigError("config file %s must hold one JSON object {...}" % path)
    return data


def load(path=None, overrides=None):
    cfg = dict(DEFAULTS)
    if path:
        cfg.update(_read(path))
    if overrides:
        cfg.update(overrides)
    return validate(cfg)


def radio_refusal(cfg, board_name):
    """Why a real board must not put this config on the air (demo keys or demo ACA), or None."""
    if board_name == "unix_sim":
        return None
    demo = []
    if cfg["aca"].lower() == DEMO_ACA:
        demo.append("aca")
    if cfg["key_write"].lower() == DEMO_KEY_WRITE:
        demo.append("key_write")
    if cfg["key_read"].lower() == DEMO_KEY_READ:
        demo.append("key_read")
    if not demo:
        return None
    return "radio off: %s still the demo value%s; set your own in config.json" % (
        ", ".join(demo),
        "s" if len(demo) > 1 else "",
    )


def raw(cfg, key):
    """A hex config value as bytes (None stays None)."""
    v = cfg.get(key)
    return None if v is None else bytes.fromhex(v)


def mac_params(cfg):
    """The MAC's typed parameters (mac.params.Params) from a validated config."""
    from mac.params import Params

    return Params(
        tel_ms=cfg["tel_ms"],
        tc_ms=cfg["tc_ms"],
        add_ms=cfg["add_ms"],
        dup_ms=cfg["dup_ms"],
        sca=raw(cfg, "sca"),
        aca_al0=cfg["aca_al0"],
    )
