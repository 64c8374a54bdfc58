"""The concentrator's special message reaches a real unix_sim meter's display:
tools/concentrator.py `display` (COMMAND 0x20/0x21 built by tools/smitp_ref.py) on a direct
link, read back from the meter's display_special register and seen in its terminal echo."""

import json

from direct_meter import running_meter

from tools import concentrator as dcu

ACA = "4d4d00004301"
KEY_W = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
KEY_R = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"


def test_display_concentrator_special_message(tmp_path, capsys):
    kf = tmp_path / "keys.json"
    kf.write_text(json.dumps({"default": {"key_write": KEY_W, "key_read": KEY_R}}))
    cfg = dict(aca=ACA, key_write=KEY_W, key_read=KEY_R, display="dots", display_echo=True)
    with running_meter(tmp_path, **cfg) as m:
        base = ["--direct", f"127.0.0.1:{m.port}", "--state", str(tmp_path / "s.json"), "--json"]
        auth = base + ["--auth", str(kf)]

        def run(args, rc=0):
            assert dcu.main(args) == rc, args
            return json.loads(capsys.readouterr().out)[ACA]

        assert run(auth + ["display", "PAY BY 12/03", "--seconds", "120"])["seconds"] == 120
        got = run(base + ["read", "display_special"])["values"][0]
        raw = bytes.fromhex(got["hex"])
        assert 110 <= int.from_bytes(raw[:2], "big") <= 120 and raw[2:] == b"PAY BY 12/03    "
        assert "NACK 6" in run(auth + ["display", "TOO LONG", "--seconds", "0"], rc=1)["error"]
        for bad in ("caf\u00e9", "\u20ac 5", "", "SEVENTEEN CHARS!!"):
            assert "printable" in run(auth + ["display", bad], rc=1)["error"]
        assert run(auth + ["display", "--clear"])["display"] == "cleared"
        got = run(base + ["read", "display_special"])["values"][0]
        assert bytes.fromhex(got["hex"]) == bytes(18)
    assert b"display:       |PAY BY 12/03" in m.output
