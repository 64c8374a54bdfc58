"""SoftPhy over an in-memory loopback capture/modulator pair (Unix MicroPython)."""

import asyncio
import unittest
from array import array

from clock import ManualClock
from phy import profile
from phy.softphy import SoftPhy


class Loop:
    """Modulator writes DAC codes; capture hands out RX-rate halves (every 9th sample, halved)."""

    def __init__(self):
        self.q = []
        self.ev = asyncio.Event()
        self.phase = 0

    def push(self, codes, n):
        out = array("H")
        i = self.phase
        while i < n:
            out.append(2048 + ((codes[i] - 2048) >> 1))
            i += 9
        self.phase = i - n
        self.q.append(out)
        self.ev.set()


class Mod:
    sample_rate = profile.TX_SAMPLE_RATE_HZ

    def __init__(self, loop):
        self.loop = loop

    async def send(self, buf, n):
        self.loop.push(buf, n)
        await asyncio.sleep(0)


class Cap:
    sample_rate = profile.RX_SAMPLE_RATE_HZ

    def __init__(self, loop):
        self.loop = loop
        self.idle = array("H", [2048] * 480)

    def start(self):
        pass

    async def read(self):
        while not self.loop.q:
            self.loop.ev.clear()
            await self.loop.ev.wait()
        return memoryview(self.loop.q.pop(0))


class TestSoftPhy(unittest.TestCase):
    def test_send_recv(self):
        loop = Loop()
        phy = SoftPhy(Cap(loop), Mod(loop), ManualClock(1234))

        async def main():
            phy.start()
            await phy.send(b"\x10hello meter")
            await phy.send(bytes(range(140)))
            loop.q.append(array("H", [2048] * 480))  # the line stays quiet afterwards
            loop.ev.set()
            f1, i1 = await asyncio.wait_for(phy.recv(), 5)
            r1 = (bytes(f1), i1.rssi, i1.snr, i1.in_phase, i1.t_ms)
            f2, i2 = await asyncio.wait_for(phy.recv(), 5)
            return r1, bytes(f2)

        r1, f2 = asyncio.run(main())
        self.assertEqual(r1[0], b"\x10hello meter")
        self.assertTrue(isinstance(r1[1], int) and isinstance(r1[2], int))
        self.assertEqual(r1[3], None)
        self.assertEqual(r1[4], 1234)
        self.assertEqual(f2, bytes(range(140)))


class StreamCap:
    """Hands out a fixed ADC stream in blocks; the clock reads the time of each block's end."""

    sample_rate = profile.RX_SAMPLE_RATE_HZ

    def __init__(self, codes, clock, block=480):
        self.codes = codes
        self.clock = clock
        self.block = block
        self.pos = 0

    def start(self):
        pass

    async def read(self):
        if self.pos >= len(self.codes):
            await asyncio.sleep_ms(1000)
        p = self.pos
        self.pos = min(p + self.block, len(self.codes))
        self.clock.set(self.pos * 1000 // profile.RX_SAMPLE_RATE_HZ)
        return memoryview(self.codes)[p : self.pos]


class TestSoftPhyTimes(unittest.TestCase):
    def test_airtime_ms(self):
        phy = SoftPhy(Cap(Loop()), Mod(Loop()))
        for n, ms in ((1, 25), (13, 45), (140, 256), (255, 448)):
            self.assertEqual(phy.airtime_ms(n), ms)
            self.assertEqual(phy.airtime_ms(n), (profile.airtime_us(n) + 999) // 1000)

    def test_t_end_ms_is_the_frame_end_on_the_air(self):
        from phy.tx import Transmitter

        t = Transmitter()
        lead = 3000  # RX samples of silence before the frame
        for frame, block in ((b"dated frame", 480), (bytes(range(200)), 1024), (b"x", 97)):
            n = t.prepare(frame)
            tx = array("H", bytearray(2 * n))
            t.fill(tx, 0, n)
            codes = array("H", [2048] * lead)
            for i in range(0, n, 9):  # fs/4 alias: every 9th DAC sample, halved
                codes.append(2048 + ((tx[i] - 2048) >> 1))
            codes.extend(array("H", [2048] * 2000))
            clock = ManualClock(0)
            phy = SoftPhy(StreamCap(codes, clock, block), Mod(Loop()), clock)

            async def main(phy=phy):
                return await asyncio.wait_for(phy.recv(), 5)

            got, info = asyncio.run(main())
            self.assertEqual(bytes(got), frame)
            end_ms = (lead + n // 9) * 1000 / profile.RX_SAMPLE_RATE_HZ
            self.assertTrue(abs(info.t_end_ms - end_ms) <= 1, (info.t_end_ms, end_ms))
            self.assertTrue(info.t_end_ms <= info.t_ms)
            self.assertTrue(info.t_ms - info.t_end_ms <= block * 1000 // 38400 + 1)
