"""tools/dcu_profiles.py decodes the hex examples of docs/profiles.md as the page says."""

import re
from pathlib import Path

from tools.dcu_profiles import decode_profile, status_names

DOC = (Path(__file__).resolve().parents[2] / "docs" / "profiles.md").read_text()


def _hex(s):
    return bytes.fromhex(s.replace(" ", ""))


def test_load_profile_examples():
    assert "32 a9 fa 74  00  0f  00 7d  00 00  00 1f  00 02" in DOC
    r = decode_profile("load_profile", _hex("32 a9 fa 74  00  0f  00 7d  00 00  00 1f  00 02"))
    assert r["time"] == "2026-12-07T23:15:00Z"
    assert (r["a_plus_wh"], r["a_minus_wh"], r["r_plus_varh"], r["r_minus_varh"]) == (
        125,
        0,
        31,
        2,
    )
    assert r["flags"] == [] and r["channels"] == 15
    r = decode_profile("load_profile", _hex("32 a9 fd f8 c0 0f 00 28 00 00 00 09 00 00"))
    assert r["flags"] == ["PDN", "PAR"] and r["a_plus_wh"] == 40


def test_measurand_and_daily_examples():
    r = decode_profile("measurand_profile", _hex("32 a9 fa 74 08 07 09 08 02 1f 00 00 04 9c"))
    assert (r["v_dv"], r["i_ca"], r["p_w"], r["flags"]) == (2312, 543, 1180, ["DST"])
    block = re.search(r"```\n(32 a8 a5 70[^`]*)```", DOC).group(1)
    d = decode_profile("daily_snapshot", _hex(block.replace("\n", " ")))
    assert d["time"] == "2026-12-06T23:00:00Z" and d["tariff"] == 1
    assert (d["a_plus_wh"], d["a_minus_wh"], d["q1_varh"], d["q4_varh"]) == (
        123456,
        789,
        40000,
        1500,
    )
    assert (d["t1_wh"], d["t2_wh"]) == (80000, 43456)


def test_status_bits():
    assert status_names(0x05) == ["DNV", "ERR"]
    assert status_names(0xFF) == ["PDN", "PAR", "CAD", "OVF", "DST", "DNV", "CIV", "ERR"]
