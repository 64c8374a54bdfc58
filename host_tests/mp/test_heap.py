"""Heap per metering second (docs/metering.md §9): the pieces the metering loop calls every
second allocate nothing. gc.mem_alloc() deltas with the GC off (they count every block taken);
`make bench-heap` gives the whole meter's figures."""

import asyncio
import gc
import unittest

from datamodel import registers as r
from energy_bench import START, EnergyBench, fill


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
