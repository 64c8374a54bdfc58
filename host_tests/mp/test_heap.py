"""Heap per metering second (docs/metering.md §9): the pieces the metering loop calls every
second allocate nothing. gc.mem_alloc() deltas with the GC off (they count every block taken);
`make bench-heap` gives the whole meter's figures."""

import asyncio
import gc
import unittest

from datamodel import registers as r
from energy_bench import START, EnergyBench, fill
from stpm_replay import Replay


def allocated(fn, n=50):
    gc.collect()
    gc.disable()
    try:
        a = gc.mem_alloc()
        for _ in range(n):
            fn()
        return gc.mem_alloc() - a
    finally:
        gc.enable()


class TestClock(unittest.TestCase):
    def test_board_clock_sleep_allocates_nothing(self):
        from clock import Clock

        c = Clock()
        got = []

        async def main():
            for _ in range(5):
                await c.sleep_ms(0)
            gc.collect()
            gc.disable()
            a = gc.mem_alloc()
            for _ in range(50):
                await c.sleep_ms(0)
                await c.sleep_ms(1)
            got.append(gc.mem_alloc() - a)
            gc.enable()

        asyncio.run(main())
        self.assertEqual(got, [0])


class LateReplay(Replay):
    """Recorded answers that are still on the wire at the first look after each frame."""

    def __init__(self, replies):
        Replay.__init__(self, replies)
        self.waits = 0
        self._fresh = False

    def write(self, buf):
        self._fresh = True
        return Replay.write(self, buf)

    def readinto(self, buf):
        if self._fresh:
            self._fresh = False
            self.waits += 1
            return None
        return Replay.readinto(self, buf)


class TestStpmReader(unittest.TestCase):
    def test_read_with_replies_on_the_wire_allocates_nothing(self):
        # the board's clock: each wait for a reply is asyncio's preallocated 1 ms sleep
        from clock import Clock, ManualClock
        from drivers.sim.stpm3x_sim import Stpm3xSim
        from drivers.stpm3x import Stpm3x
        from metrology import scenario
        from metrology.sample import Sample

        dev = Stpm3xSim(scenario.load("steps", seed=1), ManualClock(0))
        drv = Stpm3x(dev.serial(), Clock())
        s = Sample()
        got = []

        async def main():
            self.assertTrue(await drv.read(s))  # probe, configure, baseline
            self.assertTrue(await drv.read(s))
            drv._ser = late = LateReplay([bytes(drv._rx[5 * k : 5 * k + 5]) for k in range(8)])
            for _ in range(3):
                await drv.reader(s)
            gc.collect()
            gc.disable()
            a = gc.mem_alloc()
            oks = 0
            for _ in range(10):
                oks += 1 if await drv.reader(s) else 0
            got.append((gc.mem_alloc() - a, oks, late.waits))
            gc.enable()

        asyncio.run(main())
        self.assertEqual(got[0][:2], (0, 10))
        self.assertEqual(got[0][2], 8 * 13)  # every frame of every read waited once


class TestMeter(unittest.TestCase):
    def setUp(self):
        self.b = EnergyBench("heap")
        self.b.run(3)

    def tearDown(self):
        self.b.close()

    def test_parameter_reads_allocate_nothing(self):
        md = self.b.meter.model
        md.get_int(r.CUTOFF_MODE)
        self.assertEqual(allocated(lambda: md.get_int(r.CUTOFF_MODE)), 0)
        self.assertEqual(allocated(lambda: md.get_int(0x0101)), 0)  # utc_offset_min, I16
        self.assertEqual(md.get_int(0x0101), 60)

    def test_signed_parameter_read_in_place(self):
        md = self.b.meter.model
        row = r.find(0x0101)
        blk = md.blocks[0x01]
        old = bytes(blk[row[6] : row[6] + 2])
        blk[row[6]] = 0xFE  # -300 minutes, written in place for the test
        blk[row[6] + 1] = 0xD4
        try:
            self.assertEqual(md.get_int(0x0101), -300)
        finally:
            blk[row[6]] = old[0]
            blk[row[6] + 1] = old[1]

    def test_engine_second_with_every_listener_allocates_nothing(self):
        from tariff import attach as tariff_attach

        m = self.b.meter
        tariff_attach(m)  # calendar and billing listeners on this meter too
        e = m.energy
        s = e.sample
        t = START + 10

        i = [0]

        def one():
            i[0] += 1
            fill(s, i[0])
            e._second(t + i[0], 1)

        for _ in range(5):
            one()
        e._ck_t = t + 10_000  # no checkpoint in the measured seconds
        self.assertEqual(allocated(one), 0)


if __name__ == "__main__":
    unittest.main()
