"""The whole firmware on the certified-modem backend: a meter process drives the simulated
modem (tools/modem_sim.py) over the host interface; a frame the modem 'receives on the line'
reaches the MAC and the application, and the answer goes back out as a Slave_Data request."""

import json
import subprocess
import time

from tools import mm_frame as mm
from tools.modem_sim import ModemSim
from tools.mpenv import ROOT, micropython_exe, mp_env

ACA = bytes.fromhex("4d4d00004202")


def _wait(pred, timeout_s):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def _confirms(modem):
    """Data.CFM frames (Slave 0x25, Master 0x29) the modem has sent to the meter."""
    return sum(1 for e in list(modem.log) if e[0] == "tx" and e[1] in (0x25, 0x29))


def test_meter_answers_through_the_modem(tmp_path):
    modem = ModemSim().start()
    cfg = {"aca": ACA.hex(), "state_dir": str(tmp_path), "modem": f"127.0.0.1:{modem.port}"}
    (tmp_path / "m.json").write_text(json.dumps(cfg))
    p = subprocess.Popen(
        [micropython_exe(), "firmware/main.py", "--config", str(tmp_path / "m.json")],
        env=mp_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait(modem.connected, 10)
        req = mm.Frame(addr=ACA, lsdu=b"\x02\x00\x3f", disc=2, poll=True, tag=3)
        modem.deliver(req.encode(), rssi=71, snr_q2=38)
        assert _wait(lambda: modem.data_requests, 5), "no answer sent to the modem"
        garbage = bytes([5]) + bytes(5)  # LT lies about the length: rejected, no answer
        modem.deliver(garbage)
        modem.deliver(mm.Frame(addr=ACA, lsdu=b"\x02\x12\x34", disc=2, poll=True).encode())
        assert _wait(lambda: len(modem.data_requests) >= 2, 5)
        # the MAC holds one answer until its Data.CFM: the next request follows that event
        assert _wait(lambda: _confirms(modem) >= 2, 5)
        # a last request: any answer caused by the frames before it would come before its own
        modem.deliver(mm.Frame(addr=ACA, lsdu=b"\x02\x00\x3f", disc=2, poll=True, tag=5).encode())
        assert _wait(lambda: len(modem.data_requests) >= 3, 5)
    finally:
        p.terminate()
        out = p.communicate(timeout=5)[0].decode(errors="replace")
        modem.stop()
    assert len(modem.data_requests) == 3, out
    ans = mm.decode(modem.data_requests[0])
    assert ans.up and ans.addr == ACA and ans.tag == 3
    assert ans.attr == 3 and len(ans.apdu) == 8  # READ.RESP with the 8-byte status word
    nack = mm.decode(modem.data_requests[1])
    assert nack.attr == mm.NACK_A and nack.apdu == b"\x01"  # unknown object
    assert mm.decode(modem.data_requests[2]).tag == 5
