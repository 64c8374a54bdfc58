"""The concentrator on one meter's direct TCP link (drivers.sim.tcp_link, real time)."""

import json
import socket
import subprocess

from tools import concentrator as dcu
from tools import mm_frame as mm
from tools.mpenv import ROOT, micropython_exe, mp_env

ACA = "4d4d00004201"


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_direct_link_discovery_and_read(tmp_path):
    port = _free_port()
    # a short RC slot keeps the meter's REQADDR round (64 slots) at about 1.3 s of real time
    cfg = {"aca": ACA, "state_dir": str(tmp_path), "plc_listen": port, "tc_ms": 20, "seed": 5}
    (tmp_path / "meter.json").write_text(json.dumps(cfg))
    p = subprocess.Popen(
        [micropython_exe(), "firmware/main.py", "--config", str(tmp_path / "meter.json")],
        env=mp_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        link = dcu.DirectLink("127.0.0.1", port, connect_timeout_s=10)
        c = dcu.Concentrator(link, opts=dcu.Options(tc_ms=20, empty_rounds=1))
        c.discover()
        c.read_all()
        # a frame the meter must reject gets no answer; a plain unknown object gets a NACK
        ans = c.exchange(bytes.fromhex(ACA), [], mm.DISC_RA1, mm.DSAP_APP, b"\x02\x77\x77")
        link.close()
    finally:
        p.terminate()
        out = p.communicate(timeout=5)[0]
    res = c.result()
    assert [n["aca"] for n in res["nodes"]] == [ACA], out
    node = res["nodes"][0]
    assert node["hops"] == 1 and node["path"] == []
    assert node["hop_snr_db"] == [None]  # no link metrics on a TCP link (255 = unknown)
    assert len(node["status"]) == 16
    assert res["stats"]["silenced"] == 1
    assert res["stats"]["reqaddr_rounds"] >= 1
    # every exchange answered at the first try (counts, not wall time)
    assert res["stats"]["timeouts"] == 0 and res["stats"]["retries"] == 0, res["stats"]
    assert ans and ans[0][0].attr == mm.NACK_A
