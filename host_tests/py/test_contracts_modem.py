"""Contract test of the certified-modem PHY backend on its simulator: a real `micropython`
process runs drivers.modem_uart.HostIfPhy against tools/modem_sim.py (a separately written
CPython modem) and checks it with firmware/lib/interfaces.py (check_phy, check_rx_info).

The simulated modem delivers a received frame (Slave_Data.IND) as soon as the host's first
Ping.REQ reaches it, so no test step waits on a timer.
"""

import subprocess

from tools.modem_sim import ModemSim
from tools.mpenv import ROOT, micropython_exe, mp_env

SCRIPT = """
import asyncio
import interfaces
from drivers.modem_uart import HostIfPhy, open_tcp

async def main():
    phy = HostIfPhy(open_tcp("127.0.0.1", %d))
    try:
        interfaces.check_phy(phy)
        print("R phy ok")
    except interfaces.ContractError as e:
        print("R phy", e)
    await phy.ping(7)
    frame, info = await phy.recv()
    print("R frame", bytes(frame).hex())
    try:
        interfaces.check_rx_info(info)
        print("R info ok", info.rssi, info.snr, info.in_phase)
    except interfaces.ContractError as e:
        print("R info", e)
    await phy.send(b"\\x0d\\x11\\x22\\x33\\x44\\x55\\x66\\x21\\x80\\x01\\x00\\x03\\x00\\x3f")
    print("R sent 1")
    phy.close()

asyncio.run(main())
"""


class DeliverOnPing(ModemSim):
    def _on_frame(self, cmd, payload, retry, now):
        super()._on_frame(cmd, payload, retry, now)
        if cmd == 0x2C and not retry:
            self.deliver(b"\x01\x02\x03", rssi=70, snr_q2=-6, in_phase=False)


def test_modem_backend_meets_the_phy_contract():
    sim = DeliverOnPing().start()
    try:
        p = subprocess.run(
            [micropython_exe(), "-c", SCRIPT % sim.port],
            env=mp_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        sim.stop()
    out = dict(ln[2:].split(" ", 1) for ln in p.stdout.splitlines() if ln.startswith("R "))
    assert "sent" in out, p.stdout + p.stderr
    assert out["phy"] == "ok"
    assert out["frame"] == "010203"
    assert out["info"] == "ok 70 -6 False"
    reqs = [e for e in sim.log if e[0] == "rx" and e[1] == 0x24]  # Slave_Data.REQ
    assert len(reqs) == 1 and reqs[0][2].endswith(bytes.fromhex("0d1122334455662180010003003f"))
