"""`concentrator.py upgrade` against a real meter process on a direct TCP link: broadcast
blocks, gap filling, activation; the meter resets into the new image (unix_sim leaves the
process), is started again on the same flash, boots the image on trial, hears the
concentrator read its version (that confirms it), and the next boot runs it confirmed."""

import json
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from direct_meter import running_meter  # noqa: E402
from dl_env import BOARD, FACTORY_VERSION, KD, KR, KW, build_tree, dl_pack  # noqa: E402

from tools import concentrator as dcu  # noqa: E402

ACA = "0a0b0c0d0e0f"


def _meter(state):
    return running_meter(state, aca=ACA, key_write=KW, key_read=KR, key_download=KD, strict=False)


def _listening(port):
    """Wait until the meter's link accepts (a slot boot verifies its image first)."""
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("meter never listened")


def _dcu(port, tmp_path, *args):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"meters": {ACA: {"key_write": KW, "key_read": KR}}}))
    out = tmp_path / "out.json"
    argv = ["--direct", f"127.0.0.1:{port}", "--auth", str(keys), "--state"]
    argv += [str(tmp_path / "dcu_state.json"), "--meter", ACA, "--out", str(out)] + list(args)
    rc = dcu.main(argv)
    return rc, json.loads(out.read_text())[ACA]


def test_upgrade_one_meter_over_the_direct_link(tmp_path):
    tree = build_tree(tmp_path / "tree")
    img = tmp_path / "v3.img"
    img.write_bytes(dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, bytes.fromhex(KD)))
    state = tmp_path / "meter"
    state.mkdir()
    with _meter(state) as m:
        rc, r = _dcu(m.port, tmp_path, "upgrade", str(img), "--key-download", KD, "--bs", "96")
        m.proc.wait(timeout=60)  # the activation resets the meter: the process leaves
    passes = r["passes"]  # every block, then what the meter's bitmap still lacked
    assert passes[0] == dl_pack.nblocks(img.stat().st_size, 96)
    assert r["frames"]["broadcast"] == sum(passes)
    assert r["error"] is None and r["version"] == FACTORY_VERSION  # read before its reset
    with _meter(state) as m:  # first boot of the new image, on trial
        _listening(m.port)
        rc, r = _dcu(m.port, tmp_path, "read", "running_image")
        assert rc == 0
        v = bytes.fromhex(r["values"][0]["hex"])
        assert (v[0], v[1], int.from_bytes(v[3:7], "big")) == (1, 1, FACTORY_VERSION + 1)
        for _ in range(300):  # the trial task confirms once the selftest ran and it heard us
            rc, r = _dcu(m.port, tmp_path, "read", "running_image")
            if bytes.fromhex(r["values"][0]["hex"])[1] == 0:
                break
        assert bytes.fromhex(r["values"][0]["hex"])[1] == 0
