"""Meter configuration: defaults, JSON loading and validation.

A unix_sim meter is started as `micropython firmware/main.py --config meter.json`; on a board
the file is `config.json` beside main.py. Unknown keys are refused so typos do not pass silently.
"""

import json

DEFAULTS = {
    # 6-byte Absolute Communication Address, hex, in the order the bytes go on the wire
    # (see docs/datalink.md for the byte-order choice).
    "aca": "010203040506",
    "serial": "MM0000000001",
    "manufacturer": "OMM",  # FLAG id used on the optical port
    # AES-128 keys, hex. K1 = write key, K2 = read key. Tests and the simulator override them.
    "key_write": "000102030405060708090a0b0c0d0e0f",
    "key_read": "101112131415161718191a1b1c1d1e1f",
    "phase": 1,
    "sca": None,  # section address, 6 bytes hex, once the concentrator assigns one
    "tel_ms": 20,  # elaboration time (facts §5)
    "tc_ms": 250,  # RC time slot
    "add_ms": 100,  # our margin per exchange (docs/datalink.md)
    "dup_ms": 200,  # duplicate-suppression window
    "aca_al0": 0,  # which wire byte of the ACA is the AL's ACA_AL[0] (unverified, docs)
    # unix_sim only: where the simulated peripherals live
    "state_dir": "build/sim/meter",
    "medium": None,  # "127.0.0.1:7000" to join the simulated medium
    "plc_listen": None,  # TCP port on 127.0.0.1 for a direct concentrator link
    "modem": None,  # "host:port" of tools/modem_sim.py: the certified-modem PHY backend
    "plc_backend": None,  # boards: "soft" or "modem"; None = the board file's default
    "optical_port": None,  # TCP port on 127.0.0.1 for the optical probe
    # optical port (docs/optical.md): wait after the option select before the first answer
    # at the new rate; programming-mode password (ASCII, None = no programming mode); the
    # readout list ("CODE:SOURCE" strings, None = optical.readout.DEFAULT); partial-block size
    "optical_reaction_ms": 1000,
    "optical_password": None,
    "optical_readout": None,
    "optical_block": 0,
    "repl": False,
    "seed": None,
}

_HEX_LEN = {"aca": 6, "key_write": 16, "key_read": 16, "sca": 6}


class ConfigError(ValueError):
    pass


def validate(cfg):
    for k in cfg:
        if k not in DEFAULTS:
            raise ConfigError("unknown config key %r" % k)
    for k, n in _HEX_LEN.items():
        v = cfg.get(k)
        if v is None and k == "sca":
            continue
        try:
            b = bytes.fromhex(v)
        except (TypeError, ValueError):
            raise ConfigError("%s must be hex" % k)
        if len(b) != n:
            raise ConfigError("%s must be %d bytes" % (k, n))
    if cfg["phase"] not in (1, 2, 3):
        raise ConfigError("phase must be 1, 2 or 3")
    return cfg


def load(path=None, overrides=None):
    cfg = dict(DEFAULTS)
    if path:
        with open(path) as f:
            cfg.update(json.load(f))
    if overrides:
        cfg.update(overrides)
    return validate(cfg)


def raw(cfg, key):
    """A hex config value as bytes (None stays None)."""
    v = cfg.get(key)
    return None if v is None else bytes.fromhex(v)
