"""The optical port of a unix_sim meter, end to end, checked by independent clients.

- The unmodified `iec62056-21` client from PyPI (pinned in requirements-dev.txt) reads the mode C
  readout through tools/optical_pty.py, and the values equal what the data model answers to
  plain SMITP READ.REQ over the meter's direct concentrator link (tools/concentrator.py).
- The same client enters programming mode (P0, P1, R1, W1 refused, B0).
- Garbage sessions over raw TCP (random bytes, wrong parity, overlong lines, bad BCC, wrong
  passwords, stalls) each leave the port answering a fresh sign-on, and the meter still
  answers the powerline with unchanged registers.
"""

import datetime
import json
import random
import socket
import subprocess
import sys
import time

import pytest
from direct_meter import free_port as _free_port

from tools import concentrator as dcu
from tools import mm_frame as mm
from tools.mpenv import ROOT, micropython_exe, mp_env

iec = pytest.importorskip("iec62056_21")
from iec62056_21 import messages  # noqa: E402
from iec62056_21.client import Iec6205621Client  # noqa: E402

ACA = "4d4d00004202"
SERIAL = "MM0000004202"
PASSWORD = "Opt1cal!"


def _par(data):
    """TCP octets for 7-bit characters: bit 7 = even parity (docs/optical.md), written here
    independently of the firmware and the bridge."""
    return bytes(c | ((bin(c).count("1") & 1) << 7) for c in data)


def _bcc(body):
    x = 0
    for c in body:
        x ^= c
    return bytes([x & 0x7F])


def _cmd(cd, body=None):
    f = b"\x01" + cd + ((b"\x02" + body) if body is not None else b"") + b"\x03"
    return f + _bcc(f[1:])


class Meter:
    def __init__(self, tmp_path, **cfg):
        self.optical = _free_port()
        self.plc = _free_port()
        c = {
            "aca": ACA,
            "serial": SERIAL,
            "state_dir": str(tmp_path / "state"),
            "plc_listen": self.plc,
            "optical_port": self.optical,
            "optical_password": PASSWORD,
            "tc_ms": 20,
            "seed": 7,
        }
        c.update(cfg)
        (tmp_path / "meter.json").write_text(json.dumps(c))
        self.p = subprocess.Popen(
            [micropython_exe(), "firmware/main.py", "--config", str(tmp_path / "meter.json")],
            env=mp_env(),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.link = dcu.DirectLink("127.0.0.1", self.plc, connect_timeout_s=10)
        self.dcu = dcu.Concentrator(self.link, opts=dcu.Options(tc_ms=20, empty_rounds=1))
        self.dcu.discover()

    def read(self, obj):
        """A register's value by plain SMITP READ.REQ over the powerline link."""
        lsdu = bytes([mm.READ_REQ, obj >> 8, obj & 0xFF])
        ans = self.dcu.exchange(bytes.fromhex(ACA), [], mm.DISC_RA1, mm.DSAP_APP, lsdu)
        assert ans and ans[0][0].attr == mm.READ_RESP, ans
        return bytes(ans[0][0].apdu)

    def close(self):
        self.link.close()
        self.p.terminate()
        return self.p.communicate(timeout=5)[0].decode(errors="replace")


class Bridge:
    def __init__(self, port):
        self.p = subprocess.Popen(
            [sys.executable, "tools/optical_pty.py", "127.0.0.1:%d" % port],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.p.stdout.readline().split()
        assert line[0] == "PTY", line
        self.path = line[1]

    def close(self):
        self.p.terminate()
        return self.p.communicate(timeout=5)[1]


@pytest.fixture
def meter(tmp_path):
    # the standard's longest reaction time: the client reopens its port (flushing input)
    # 0.5 s after its ACK, so a loaded test host keeps 1 s of margin
    m = Meter(tmp_path, optical_reaction_ms=1500)
    yield m
    m.close()


def _client(bridge):
    client = Iec6205621Client.with_serial_transport(port=bridge.path)
    client.connect()
    return client


def test_pypi_client_reads_the_data_model_through_the_pty(meter):
    bridge = Bridge(meter.optical)
    try:
        client = _client(bridge)
        resp = client.standard_readout()
        t_read = datetime.datetime.now(datetime.timezone.utc)
        client.disconnect()
    finally:
        stats = bridge.close()
    values = {}
    for ds in resp.data:
        values[ds.address] = (ds.value, ds.unit)
    assert client.manufacturer_id == "OMM"
    assert client.switchover_baudrate_char == "5"
    # programming mode with the same client on a fresh pty (the client opens the port anew
    # at each baud switch; Linux refuses a pty open at the rate it already has, EINVAL)
    bridge = Bridge(meter.optical)
    try:
        client = _client(bridge)
        pw_req = client.access_programming_mode()  # P0 with the seed
        assert pw_req.command == "P" and pw_req.command_type == 0
        assert len(pw_req.data_set.value) == 8
        # 0.0.2's send_password() cannot run (DataSet() without its address argument, and
        # command_type "1" as a string), so the P1 is built from the client's own classes
        ds = messages.DataSet(address="", value=PASSWORD)
        p1 = messages.CommandMessage(command="P", command_type=1, data_set=ds)
        client.transport.send(p1.to_bytes())
        boots = client.read_single_value("0004")
        energy = client.read_single_value("1.8.0")  # a readout entry by its OBIS code
        serial_line = client.read_single_value("C.1.0")
        with pytest.raises(ValueError):  # W1 of a read-only register: an error answer
            client.write_single_value("0001", "00" * 16)
        client.send_break()
        client.disconnect()
    finally:
        stats += bridge.close()
    # what the data model holds, read over SMITP on the powerline link
    serial = meter.read(0x0001)
    firmware = meter.read(0x0002)
    boot_count = meter.read(0x0004)
    status = meter.read(0x003F)
    assert values["C.1.0"] == (serial.decode().strip(), None)
    assert values["0.2.0"] == (firmware.decode().strip(), None)
    assert values["C.50.0"] == ("%08d" % int.from_bytes(boot_count, "big"), None)
    assert values["F.F"] == (status.hex().upper(), None)
    # the energies run on (the metering engine books every second): each figure the port sent
    # is a kWh reading with 3 decimals, never above the register read over SMITP afterwards,
    # and the programming-mode read (later) never below the readout's
    for code, obj in (("1.8.0", 0x0400), ("2.8.0", 0x0401)):
        kwh, unit = values[code]
        assert (
            unit == "kWh" and len(kwh) == 10 and kwh[6] == "." and kwh.replace(".", "").isdigit()
        )
        assert int(kwh.replace(".", "")) <= int.from_bytes(meter.read(obj), "big")
    assert boots.value == boot_count.hex().upper() and boots.address == "0004"
    assert (energy.address, energy.unit) == ("1.8.0", "kWh")
    assert (
        values["1.8.0"][0]
        <= energy.value
        <= "%010.3f" % (int.from_bytes(meter.read(0x0400), "big") / 1000)
    )
    assert serial_line.value == serial.decode().strip()
    # the simulated RTC runs on host UTC (offset 0 in a fresh state dir)
    meter_dt = datetime.datetime.strptime(
        values["0.9.2"][0] + values["0.9.1"][0], "%y%m%d%H%M%S"
    ).replace(tzinfo=datetime.timezone.utc)
    assert abs((t_read - meter_dt).total_seconds()) < 5
    assert "parity_errors=0" in stats


def _session(rng, k):
    """One garbage session of kind k as [(pause s, bytes)]."""
    good = [(0, _par(b"/?!\r\n")), (0.3, _par(b"\x06051\r\n"))]
    if k == 0:
        return [(0, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))]
    if k == 1:
        return [(0, _par(b"/?" + b"7" * 40 + b"!\r\n"))]  # overlong sign-on
    if k == 2:
        return [(0, bytes(c ^ 0x80 for c in _par(b"/?!\r\n")))]  # every parity wrong
    if k == 3:  # wrong passwords
        return good + [(0.2, _par(_cmd(b"P1", b"(guess%d)" % i))) for i in range(2)]
    if k == 4:  # the right password with a bad BCC, then a write it must refuse
        bad = bytearray(_cmd(b"P1", b"(" + PASSWORD.encode() + b")"))
        bad[-1] ^= 0x11
        return good + [(0.2, _par(bad)), (0.2, _par(_cmd(b"W1", b"0004(00000009)")))]
    f = _par(_cmd(b"W1", b"0004(00000009)"))  # a stall mid-command
    return good + [(0.2, f[:5]), (1.6, f[5:])]


def test_garbage_sessions_over_tcp_leave_the_port_idle(tmp_path):
    meter = Meter(tmp_path, optical_reaction_ms=50)
    try:
        before = [meter.read(o) for o in (0x0001, 0x0002, 0x0004)]
        rng = random.Random(62056)
        s = socket.create_connection(("127.0.0.1", meter.optical))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for n in range(18):  # three of each kind
            for pause, data in _session(rng, n % 6):
                time.sleep(pause)
                s.sendall(data)
            s.sendall(_par(_cmd(b"B0")))  # what a hand-held unit sends when it gives up
            time.sleep(0.3)
            s.setblocking(False)
            try:
                while s.recv(4096):
                    pass
            except BlockingIOError:
                pass
            s.setblocking(True)
            s.settimeout(3)
            s.sendall(_par(b"/?!\r\n"))
            got = b""
            while not got.endswith(_par(b"\r\n")):
                got += s.recv(100)
            assert got == _par(b"/OMM5" + before[1].strip() + b"\r\n"), (n, got)
            s.sendall(_par(b"\x06090\r\n"))  # a rate the meter did not offer: back to idle
        s.close()
        after = [meter.read(o) for o in (0x0001, 0x0002, 0x0004)]
    finally:
        out = meter.close()
    assert after == before, out
