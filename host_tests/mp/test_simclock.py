"""drivers/sim/simclock.py: simulated time that jumps to the next wakeup when the loop is idle,
then follows the host clock from `until_ms`; the unix_sim RTC follows it."""

import asyncio
import unittest

import config
from drivers.sim.rtc import SimRtc
from drivers.sim.simclock import SimClock


class TestSimClock(unittest.TestCase):
    def test_a_day_of_seconds_jumps(self):
        clk = SimClock()
        rtc = SimRtc(None, clk, 850_000_000)
        seen = []

        async def metering():  # a task like the energy engine: one wakeup per second
            for _ in range(86400):
                await clk.sleep_ms(1000)
            seen.append((clk.now_ms(), rtc.seconds()))

        async def slow():  # another sleeper on the same clock, interleaved
            n = 0
            while True:
                await clk.sleep_ms(900_000)
                n += 1
                seen.append(n)

        async def main():
            s = asyncio.create_task(slow())
            await metering()
            s.cancel()

        asyncio.run(main())
        self.assertEqual(seen[-1], (86_400_000, 850_086_400))
        self.assertEqual(seen[:-1], list(range(1, 97)))
        self.assertGreaterEqual(clk.jumps, 86400)

    def test_rtc_set_follows_the_clock(self):
        clk = SimClock()
        rtc = SimRtc(None, clk, 1000)
        clk.set(5500)
        self.assertEqual(rtc.seconds(), 1005)
        rtc.set(2000)
        clk.set(7000)
        self.assertEqual(rtc.seconds(), 2002)  # whole seconds of the base: 1005 -> 1007

    def test_until_then_host_time(self):
        clk = SimClock(until_ms=3_600_000)
        order = []

        async def main():
            await clk.sleep_ms(10_000_000)  # beyond `until`: host time from 3600 s on
            order.append(clk.now_ms())

        async def bound():
            t = asyncio.create_task(main())
            await asyncio.sleep_ms(0)
            while clk.now_ms() < 3_600_000:
                await asyncio.sleep_ms(1)
            order.append("until")
            t.cancel()

        asyncio.run(bound())
        self.assertEqual(order, ["until"])
        self.assertLess(clk.now_ms(), 3_700_000)  # no more jumps after until

    def test_config(self):
        config.load(None, {"sim_start": 10, "sim_until": 20})
        with self.assertRaises(config.ConfigError):
            config.load(None, {"sim_until": 20})
        with self.assertRaises(config.ConfigError):
            config.load(None, {"sim_start": 30, "sim_until": 20})
        with self.assertRaises(config.ConfigError):
            config.load(None, {"sim_start": 30, "medium": "127.0.0.1:7000"})


if __name__ == "__main__":
    unittest.main()
