"""drivers.stm32_adc_dma: the multi-block DMA ring read by position, with a simulated DMA.

The DMA is modelled by its NDTR register (samples left before the ring wraps) in a fake
stm.mem32, and by writing each sample's running index into the ring; the capture's clock is a
fake ticks_us that advances with the samples. No register set-up runs here (start() needs the
stm32 port); the reading logic is what decides whether a block is lost.
"""

import asyncio
import unittest

from drivers import stm32_adc_dma as drv


class Mem(dict):
    def __getitem__(self, addr):
        return self.get(addr, 0)


class FakeStm:
    mem32 = Mem()


NDTR = 0x40026400 + 0x14  # DMA2 stream 0 NDTR (RM0090 10.5.6)


class Dma:
    """Writes samples 0, 1, 2, ... (mod 4096) into the capture's ring at 38.4 kHz."""

    def __init__(self, cap):
        self.cap = cap
        self.w = 0
        self.us = 0
        FakeStm.mem32[NDTR] = cap.nblocks * cap.block

    def run(self, n):
        ln = self.cap.nblocks * self.cap.block
        for _ in range(n):
            self.cap._ring[self.w % ln] = self.w & 4095
            self.w += 1
        self.us = self.w * 1000000 // 38400
        FakeStm.mem32[NDTR] = ln - self.w % ln


class TestCaptureRing(unittest.TestCase):
    def setUp(self):
        self.real = drv.stm
        drv.stm = FakeStm
        FakeStm.mem32.clear()
        self.cap = drv.AdcDmaCapture("PA3", block=512, nblocks=4, ticks_us=lambda: self.dma.us)
        self.dma = Dma(self.cap)
        self.cap._running = True
        self.cap._t = 0

    def tearDown(self):
        drv.stm = self.real

    def _read(self):
        return asyncio.run(self.cap.read())

    def _first(self):
        return self._read()[0]

    def test_blocks_in_order_without_loss(self):
        firsts = []
        for _ in range(40):
            self.dma.run(200)
            while self.cap._look() > 0:
                firsts.append(self._first())
        self.assertEqual(firsts, [(512 * k) & 4095 for k in range(len(firsts))])
        self.assertEqual(len(firsts), 8000 // 512)
        self.assertEqual(self.cap.overruns, 0)

    def test_a_long_decode_loses_nothing(self):
        # the consumer is away for 3.9 blocks (52 ms, longer than the ~23 ms decode of a
        # 255-byte frame on the M4): nblocks - 1 = 3 complete blocks wait, none is lost
        self.dma.run(512)
        self.assertEqual(self._first(), 0)
        self.dma.run(int(3.9 * 512))
        got = []
        while self.cap._look() > 0:
            got.append(self._first())
        self.assertEqual(got, [512, 1024, 1536])
        self.assertEqual(self.cap.overruns, 0)

    def test_overrun_counts_lost_blocks_and_resumes_at_the_oldest_intact(self):
        self.dma.run(512)
        self.assertEqual(self._first(), 0)
        self.dma.run(6 * 512 + 100)  # blocks 1..6 complete; 1, 2, 3 overwritten
        self.assertEqual(self._first(), (4 * 512) & 4095)
        self.assertEqual(self.cap.overruns, 3)
        self.assertEqual(self._first(), (5 * 512) & 4095)
        self.assertEqual(self._first(), (6 * 512) & 4095)

    def test_more_than_a_lap_is_seen_by_the_clock(self):
        self.dma.run(512)
        self.assertEqual(self._first(), 0)
        # 9.5 blocks: the position alone looks like 1.5 blocks; the time says 2 laps + 1.5
        self.dma.run(int(9.5 * 512))
        self.assertEqual(self._first(), (7 * 512) & 4095)
        self.assertEqual(self.cap.overruns, 6)

    def test_views_are_blocks_of_the_ring(self):
        self.dma.run(2 * 512)
        a = self._read()
        b = self._read()
        self.assertEqual((len(a), len(b)), (512, 512))
        self.assertEqual((a[511], b[0]), (511, 512))


if __name__ == "__main__":
    unittest.main()
