"""Mode F system test (docs/optical.md): a real `micropython firmware/main.py` meter with its
optical port on TCP and a direct powerline link; the hand-held unit is tools/handheld.py
(CPython, tools/smitp_ref.py, no firmware code), over TCP and through the pty bridge
tools/optical_pty.py. The concentrator on the powerline sees what the hand-held unit did."""

import contextlib
import random
import subprocess
import sys

import pytest
from direct_meter import free_port, spawn

from tools import concentrator as dcu
from tools import smitp_ref as ref
from tools.dcu_keys import State
from tools.handheld import Handheld, LinkError, SerialLine, TcpLine
from tools.mpenv import ROOT

ACA = bytes.fromhex("4d4d00004211")
KEYS = ref.Keys(bytes(range(0xA0, 0xB0)), bytes(range(0xB0, 0xC0)))
DELAY = 0x0E02  # cutoff_delay_s, u16, written with the write key


@contextlib.contextmanager
def meter(tmp_path):
    opt, plc = free_port(), free_port()
    cfg = {
        "state_dir": str(tmp_path),
        "plc_listen": plc,
        "optical_port": opt,
        "optical_reaction_ms": 300,
        "seed": 7,
        "aca": ACA.hex(),
        "key_write": KEYS.write.hex(),
        "key_read": KEYS.read.hex(),
    }
    p = spawn(tmp_path, cfg)
    try:
        link = dcu.DirectLink("127.0.0.1", plc)  # waits for the meter to listen
        try:
            yield opt, dcu.MeterSession(dcu.Concentrator(link), ACA, (), KEYS, State(None))
        finally:
            link.close()
    finally:
        p.terminate()
        p.communicate(timeout=5)


def _tcp(opt):
    import time

    for _ in range(50):  # the optical listener comes up with the meter's tasks
        try:
            return TcpLine("127.0.0.1", opt)
        except ConnectionRefusedError:
            time.sleep(0.1)
    raise AssertionError("optical port never listened")


def _read_write_read(h, value):
    h.sign_on()
    assert h.start() == ACA
    before = h.read(DELAY, ref.ECC_CTR_READ)
    assert h.write(DELAY, value.to_bytes(2, "big")).ok
    after = h.read(DELAY, ref.ECC_CTR_READ)
    h.close()
    return before, after


def test_handheld_reads_and_writes_with_authentication_over_tcp(tmp_path):
    with meter(tmp_path) as (opt, s):
        line = _tcp(opt)
        try:
            h = Handheld(line, KEYS)
            before, after = _read_write_read(h, 45)
        finally:
            line.close()
        assert before == (60).to_bytes(2, "big") and after == (45).to_bytes(2, "big")
        assert h.ident == "/OMM5MMPY0002"
        # the same data model and the same LMON as the powerline: the concentrator adopts it
        assert s.read("cutoff_delay_s", ref.ECC_CTR_READ) == (45).to_bytes(2, "big")
        assert s.resyncs == 1


def test_handheld_through_the_pty_bridge(tmp_path):
    with meter(tmp_path) as (opt, s):
        br = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "optical_pty.py"), f"127.0.0.1:{opt}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        try:
            path = br.stdout.readline().decode().split()[1]
            line = SerialLine(path)
            try:
                h = Handheld(line, KEYS)
                before, after = _read_write_read(h, 90)
                # the bridge went back to 7E1 at the break: a readout sign-on works again
                line.write(b"/?!\r\n")
                assert h._read_until(lambda b: b.endswith(b"\r\n"), 5).startswith(b"/OMM5")
            finally:
                line.close()
        finally:
            br.terminate()
            br.communicate(timeout=5)
        assert after == (90).to_bytes(2, "big")
        assert s.read("cutoff_delay_s") == (90).to_bytes(2, "big")


def test_garbage_bad_tmac_and_replay_change_nothing(tmp_path):
    rnd = random.Random(62056)
    names = ("cutoff_delay_s", "cutoff_mode", "contract1_power_w", "cutoff_state", "status_word")
    with meter(tmp_path) as (opt, s):
        want = {n: s.read(n) for n in names}
        line = _tcp(opt)
        try:
            for i in range(12):
                h = Handheld(line, KEYS, answer_timeout_s=0.8)
                h.sign_on()
                h.start()
                if i % 3 == 0:  # noise between frames (no frame start: a partial frame would
                    # hold the break until the 1.5 s character timeout), then a random LSDU
                    junk = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 200)))
                    line.write(junk.replace(b"\x68", b"\x00"))
                    with contextlib.suppress(LinkError):
                        h.exchange(0, bytes(rnd.getrandbits(8) for _ in range(5)))
                elif i % 3 == 1:  # bad TMAC: one bit of the sealed write flipped
                    req = h.master.request(ref.WRITE_REQ, ref.write_req(DELAY, b"\x00\x05"), 5)
                    bad = bytearray(req.lsdu)
                    bad[-3] ^= 0x10
                    ecc, ans = h.exchange(5, bytes(bad))
                    assert (ans[0], ecc) == (ref.NACK_A_AUTH, ref.ECC_ECB_READ)
                else:  # replay: a write accepted, undone, then sent again
                    w = h.master.request(ref.WRITE_REQ, ref.write_req(DELAY, b"\x00\x05"), 5)
                    assert h._send(w).ok
                    assert h.write(DELAY, want["cutoff_delay_s"]).ok
                    ecc, ans = h.exchange(5, w.lsdu)
                    assert (ans[0], ecc) == (ref.NACK_A_AUTH, ref.ECC_ECB_READ)
                h.close()  # the break: the next sign-on is answered at 300 Bd 7E1
        finally:
            line.close()
        assert {n: s.read(n) for n in names} == want


@pytest.mark.parametrize("smitp", [False])
def test_mode_f_refused_when_disabled(tmp_path, smitp):
    opt = free_port()
    cfg = {"state_dir": str(tmp_path), "optical_port": opt, "optical_smitp": smitp, "seed": 7}
    p = spawn(tmp_path, cfg)
    try:
        line = _tcp(opt)
        try:
            h = Handheld(line, None, answer_timeout_s=1.0)
            h.sign_on()
            with pytest.raises(LinkError):
                h.start()
        finally:
            line.close()
    finally:
        p.terminate()
        p.communicate(timeout=5)
