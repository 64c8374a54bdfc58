"""A built meter on simulated time with the deterministic front-end (fakes.metrology), for the
energy engine's tests and benchmark (no tests here).

    b = EnergyBench("name")            # fresh flash; b.meter is app.Meter on a ManualClock
    b.run(seconds)                     # run the supervised tasks that many simulated seconds
    b.reboot()                         # a power cycle: same flash, the RTC keeps running
"""

import asyncio
import os

import config
from app import Meter
from clock import ManualClock
from drivers.sim.flash import SimFlash
from drivers.sim.pin import LoopPin
from drivers.supply import SupplyInput
from fakes.metrology import ClockRtc, FakeMetrology
from hw import Hardware

START = 849_000_000  # 2026-11-26 07:20:00 UTC


def fill(s, i):
    """A plausible one-second sample that moves through all four quadrants as i grows (for
    driving Engine._second without a front-end: allocation and CPU measurements)."""
    s.dt_ms = 1000
    s.ep_mws = s.p_mw = 2_000_000 - (i % 41) * 97_001
    s.eq_mvars = s.q_mvar = 300_000 - (i % 37) * 13_001
    s.v_mv = 230_000 + i % 100
    s.i_ma = 9000


def _mkdir(p):
    try:
        os.mkdir(p)
    except OSError:
        pass


class EnergyBench:
    def __init__(self, name, start=START, seed=0, metrology=True):
        _mkdir("build")
        self.dir = "build/test_%s_%s" % (name, os.urandom(4).hex())
        _mkdir(self.dir)
        self.seed = seed
        self.with_metrology = metrology
        self.clock = ManualClock(0)
        self.rtc = ClockRtc(self.clock, start)
        self.boot()

    def boot(self):
        self.supply = SupplyInput(LoopPin("supply", 1))  # as unix_sim
        self.met = FakeMetrology(self.rtc, self.seed) if self.with_metrology else None
        hw = Hardware(
            "unix_sim",
            clock=self.clock,
            flash=SimFlash(self.dir + "/flash.bin", 4096, 8),
            rtc=self.rtc,
            metrology=self.met,
            supply=self.supply,
        )
        self.meter = Meter(hw, config.load(None, {"seed": 1}), strict=True)
        return self.meter

    def reboot(self, off_s=0):
        """Power cycle: the RTC runs on for off_s seconds while the meter is off."""
        self.rtc.start += off_s
        return self.boot()

    async def _run(self, ms, each=None):
        m = self.meter
        m.start()
        end = self.clock.now_ms() + ms
        while True:
            for _ in range(4):
                await asyncio.sleep_ms(0)
            if each is not None:
                each()
            nx = self.clock.next_wakeup()
            if nx is None or nx > end:
                break
            self.clock.set(nx)
        self.clock.set(end)
        for _ in range(4):
            await asyncio.sleep_ms(0)
        m.supervisor.stop()
        await asyncio.sleep_ms(0)

    def run(self, seconds, each=None):
        asyncio.run(self._run(seconds * 1000, each))

    def close(self):
        for f in os.listdir(self.dir):
            os.remove(self.dir + "/" + f)
        os.rmdir(self.dir)
