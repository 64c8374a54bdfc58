"""docs/metrology.md is a specification: every UART frame on it carries the reflected CRC-8
(checked with `crccheck`, independent of the firmware), and the start-up and per-second
exchanges it tabulates are what the driver and the simulated IC really exchange."""

import re

from stpm_ref import Crc8Reflected, run_mp

from tools.mpenv import ROOT

DOC = (ROOT / "docs" / "metrology.md").read_text()
GROUP = re.compile(r"`([0-9a-f]{2}(?: [0-9a-f]{2}){4})`")


def test_every_frame_on_the_page_has_a_good_crc():
    frames = [bytes.fromhex(g) for g in GROUP.findall(DOC)]
    assert len(frames) >= 35
    for f in frames:
        assert Crc8Reflected.calc(f[:4]) == f[4], f.hex(" ")


RECORD = r"""
import asyncio
from jump_clock import JumpClock
from metrology import scenario
from metrology.sample import Sample
from drivers.stpm3x import Stpm3x
from drivers.sim.stpm3x_sim import Stpm3xSim

class Tap:
    def __init__(self, inner):
        self.inner = inner
        self.last = None
    def write(self, b):
        if self.last is not None:
            print("pair", self.last, "-")
        self.last = bytes(b).hex(" ")
        return self.inner.write(b)
    def readinto(self, b):
        n = self.inner.readinto(b)
        if n == 5 and self.last is not None:
            print("pair", self.last, bytes(b).hex(" "))
            self.last = None
        return n
    def any(self):
        return self.inner.any()
    def configure(self, *a):
        self.inner.configure(*a)
    def tx_idle(self):
        return True

clock = JumpClock()
sc = scenario.load({"segments": [{"dur": 100, "v": 230.0, "i": 10.0, "phi_deg": 30.0}]})
dev = Stpm3xSim(sc, clock)
drv = Stpm3x(Tap(dev.serial()), clock)
s = Sample()
asyncio.run(drv.read(s))
dev.begin()
clock.set(dev.t0_ms + 1000)
asyncio.run(drv.read(s))
print("sample", s.ep_mws, s.eq_mvars, s.v_mv, s.i_ma, s.f_mhz)
"""


def test_tabulated_exchanges_are_the_real_ones(tmp_path):
    (tmp_path / "rec.py").write_text(RECORD)
    out = run_mp(tmp_path / "rec.py")
    pairs = []
    for line in out.splitlines():
        f = line.split(" ", 1)
        if f[0] == "pair":
            tx, rx = f[1][:14], f[1][15:]
            pairs.append((tx, rx))
        elif f[0] == "sample":
            assert f[1] == "1991858 1150000 230007 10000 50000"
    rows = [r for r in DOC.splitlines() if r.startswith("| ")]
    # the second read: eight frames, each row `| n | tx | rx | ...`
    for tx, rx in pairs[-8:]:
        assert any(f"`{tx}`" in r and f"`{rx}`" in r for r in rows), (tx, rx)
    # start-up: every frame the driver sent is on the page
    for tx, _ in pairs[:-8]:
        assert f"`{tx}`" in DOC, tx
