"""firmware/main.py on the unix port: --help prints the usage; every mistake in the arguments
or the config ends in one line "config error: ..." and exit status 2, never a traceback."""

import json
import socket
import subprocess

from tools.mpenv import ROOT, micropython_exe, mp_env


def run(args, timeout=30):
    p = subprocess.run(
        [micropython_exe(), "firmware/main.py"] + args,
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return p.returncode, p.stdout + p.stderr


def test_help_prints_usage():
    rc, out = run(["--help"])
    assert rc == 0
    assert out.startswith("usage: micropython firmware/main.py")
    assert "--config FILE" in out and "--set KEY=VALUE" in out


def one_line_error(args):
    rc, out = run(args)
    lines = out.strip().splitlines()
    assert rc == 2 and len(lines) == 1, out
    assert lines[0].startswith("config error: "), out
    return lines[0][len("config error: ") :]


def test_argument_mistakes(tmp_path):
    assert one_line_error(["--bogus"]) == "unknown argument '--bogus' (see --help)"
    assert one_line_error(["--config"]) == "--config needs a value (see --help)"
    assert one_line_error(["--set", "tel_ms"]) == "--set needs KEY=VALUE (got 'tel_ms')"
    assert one_line_error(["--set", "tel_ms=fast"]) == "tel_ms must be an integer (got 'fast')"
    assert one_line_error(["--set", "plc_listen=0"]) == "plc_listen must be 1..65535 (got 0)"
    assert one_line_error(["--board", "pdp11"]).startswith("unknown board 'pdp11'")


def test_config_file_mistakes(tmp_path):
    missing = tmp_path / "none.json"
    assert one_line_error(["--config", str(missing)]) == "cannot read config file %s" % missing
    for text in ("", "{", '{"aca": "0a0b'):  # (MicroPython's json accepts some invalid JSON)
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        assert one_line_error(["--config", str(bad)]) == "config file %s is not valid JSON" % bad
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"state_dir": str(tmp_path), "phase": "one"}))
    assert one_line_error(["--config", str(wrong)]) == "phase must be an integer (got 'one')"


def test_port_in_use(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        cfg = tmp_path / "m.json"
        cfg.write_text(json.dumps({"state_dir": str(tmp_path), "plc_listen": port}))
        msg = one_line_error(["--config", str(cfg)])
    finally:
        s.close()
    assert msg.startswith("cannot open the PLC link (plc_listen %d): " % port), msg
