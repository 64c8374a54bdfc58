"""config.py: every value type- and range-checked once at load with one readable line per
mistake; broken or missing files named; the MAC's typed parameters; demo keys keep a real
board's radio off."""

import os
import unittest

import config

TMP = "build/test_config"


def _write(name, text):
    for p in ("build", TMP):
        try:
            os.mkdir(p)
        except OSError:
            pass
    path = TMP + "/" + name
    with open(path, "w") as f:
        f.write(text)
    return path


def _error(**over):
    try:
        config.load(overrides=over)
    except config.ConfigError as e:
        return str(e)
    return None


class TestConfigChecks(unittest.TestCase):
    def test_wrong_types_and_ranges(self):
        cases = (
            ({"tel_ms": "20"}, "tel_ms must be an integer (got '20')"),
            ({"tel_ms": 0}, "tel_ms must be 1..1000 (got 0)"),
            ({"tc_ms": 2.5}, "tc_ms must be an integer (got 2.5)"),
            ({"phase": True}, "phase must be an integer (got True)"),
            ({"plc_listen": 70000}, "plc_listen must be 1..65535 (got 70000)"),
            ({"plc_listen": "abc"}, "plc_listen must be an integer (got 'abc')"),
            ({"optical_port": -1}, "optical_port must be 1..65535 (got -1)"),
            ({"aca_al0": 6}, "aca_al0 must be 0..5 (got 6)"),
            ({"medium": "localhost"}, "medium must be \"host:port\" (got 'localhost')"),
            ({"medium": "h:99999"}, "medium: port must be 1..65535 (got '99999')"),
            ({"modem": 7000}, "modem must be non-empty text (got 7000)"),
            ({"plc_backend": "radio"}, "plc_backend must be one of soft, modem (got 'radio')"),
            ({"repl": 1}, "repl must be true or false (got 1)"),
            ({"strict": "yes"}, "strict must be true or false (got 'yes')"),
            ({"aca": "0102"}, "aca must be 6 bytes (12 hex digits)"),
            ({"key_read": "zz"}, "key_read must be hex text (got 'zz')"),
            ({"sca": 5}, "sca must be hex text (got 5)"),
            ({"sca": "0102030405aa"}, "sca: SCA must be 6 bytes ending in 03 (not broadcast)"),
            ({"typo": 1}, "unknown config key 'typo'"),
            ({"metrology": "ct"}, "metrology must be one of stpm, adc (got 'ct')"),
            ({"scenario": ""}, "scenario must be non-empty text (got '')"),
            ({"scenario_seed": -1}, "scenario_seed must be 0..2147483647 (got -1)"),
            (
                {"scenario": "weekday"},
                "scenario must be a .json file or one of drift, export, harmonics, household,"
                " interruptions, mixed, sags, steps (got 'weekday')",
            ),
        )
        for over, msg in cases:
            with self.subTest(over=over):
                self.assertEqual(_error(**over), msg)

    def test_good_values_pass(self):
        for over in (
            {"medium": "sample:127.0.0.1:7000"},
            {"medium": None, "plc_listen": 1},
            {"sca": "010203040503", "seed": 0, "plc_backend": "modem"},
            {"metrology": "adc", "scenario": "mixed", "scenario_seed": 7},
            {"scenario": "build/x.json"},
        ):
            self.assertIsNone(_error(**over))

    def test_missing_broken_and_non_object_files(self):
        self.assertEqual(
            str(self._load_error(TMP + "/nope.json")),
            "cannot read config file %s/nope.json" % TMP,
        )
        for name, text in (("bad.json", '{"aca": '), ("empty.json", "")):
            p = _write(name, text)
            self.assertEqual(str(self._load_error(p)), "config file %s is not valid JSON" % p)
        p = _write("list.json", "[1, 2]")
        self.assertEqual(
            str(self._load_error(p)), "config file %s must hold one JSON object {...}" % p
        )

    def _load_error(self, path):
        with self.assertRaises(config.ConfigError) as cm:
            config.load(path)
        return cm.exception

    def test_mac_params_typed_once(self):
        cfg = config.load(overrides={"tel_ms": 30, "sca": "010203040503", "aca_al0": 2})
        p = config.mac_params(cfg)
        self.assertEqual((p.tel_ms, p.tc_ms, p.add_ms, p.dup_ms), (30, 250, 100, 200))
        self.assertEqual((p.sca, p.aca_al0), (bytes.fromhex("010203040503"), 2))

    def test_demo_keys_keep_a_real_boards_radio_off(self):
        cfg = config.load()
        self.assertIsNone(config.radio_refusal(cfg, "unix_sim"))
        self.assertEqual(
            config.radio_refusal(cfg, "nucleo_f429zi"),
            "radio off: aca, key_write, key_read still the demo values; "
            "set your own in config.json",
        )
        own = config.load(
            overrides={
                "aca": "4d4d00004201",
                "key_write": "00" * 16,
                "key_read": config.DEMO_KEY_READ.upper(),
            }
        )
        self.assertEqual(
            config.radio_refusal(own, "esp32_devkitc"),
            "radio off: key_read still the demo value; set your own in config.json",
        )
        own["key_read"] = "11" * 16
        self.assertIsNone(config.radio_refusal(own, "esp32_devkitc"))
