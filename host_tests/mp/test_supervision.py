"""Fault record and task supervision: a task that dies or is killed, or a driver that raises,
is restarted and shows in the fault record; a task that keeps dying ends in a reset; a clean
meter run records no fault at all (strict). Simulated time only (clock.ManualClock)."""

import asyncio
import os
import unittest

from clock import ManualClock
from faults import Faults
from mac_util import mk
from supervisor import Supervisor, TaskReturned

TMP = "build/test_supervision"
ME = bytes.fromhex("4d4d00004201")


async def spin(n=20):
    """Let every ready task run n rounds (no time passes on the simulated clock)."""
    for _ in range(n):
        await asyncio.sleep_ms(0)


class Resets:
    def __init__(self):
        self.n = 0

    def __call__(self):
        self.n += 1


class TestFaults(unittest.TestCase):
    def test_ring_keeps_the_last_in_order(self):
        t = [0]
        f = Faults(now_ms=lambda: t[0], size=4)
        self.assertEqual((f.count, f.recent()), (0, []))
        for i in range(6):
            t[0] = 100 + i
            f.record(ValueError(i) if i % 2 else KeyError(i), "place%d" % i)
        self.assertEqual(f.count, 6)
        self.assertEqual(
            f.recent(),
            [
                ("KeyError", "place2", 102),
                ("ValueError", "place3", 103),
                ("KeyError", "place4", 104),
                ("ValueError", "place5", 105),
            ],
        )

    def test_strict_reraises_after_recording(self):
        f = Faults(strict=True)
        e = OSError(5)
        with self.assertRaises(OSError):
            f.record(e, "drv")
        self.assertEqual((f.count, f.recent()), (1, [("OSError", "drv", 0)]))

    def test_record_allocates_nothing_once_warm(self):
        import micropython

        f = Faults(now_ms=lambda: 7)
        e = ValueError()
        f.record(e, "x")
        micropython.heap_lock()
        try:
            for _ in range(20):
                f.record(e, "x")
        finally:
            micropython.heap_unlock()
        self.assertEqual(f.count, 21)


class TestSupervisor(unittest.TestCase):
    def make(self, **kw):
        self.clock = ManualClock(1000)
        self.faults = Faults(now_ms=self.clock.now_ms)
        self.resets = Resets()
        return Supervisor(self.faults, self.clock, self.resets, **kw)

    def test_dead_task_restarts_after_backoff(self):
        sup = self.make(backoff_ms=100)
        runs = []
        go = asyncio.Event()

        async def worker():
            runs.append(self.clock.now_ms())
            await go.wait()
            go.clear()
            raise ValueError("worker bug")

        async def main():
            sup.spawn("worker", worker)
            runner = asyncio.create_task(sup.run())
            await spin()
            go.set()
            await spin()
            self.assertEqual(self.faults.recent(), [("ValueError", "worker", 1000)])
            self.assertEqual(len(runs), 1)  # waiting out the back-off
            self.clock.advance(99)
            await spin()
            self.assertEqual(len(runs), 1)
            self.clock.advance(1)
            await spin()
            self.assertEqual(runs, [1000, 1100])
            go.set()  # second failure in a row: back-off doubles
            await spin()
            self.clock.advance(199)
            await spin()
            self.assertEqual(len(runs), 2)
            self.clock.advance(1)
            await spin()
            self.assertEqual(runs, [1000, 1100, 1300])
            self.assertEqual(sup.status()["tasks"]["worker"]["restarts"], 2)
            sup.stop()
            await spin()
            self.assertTrue(runner.done())

        asyncio.run(main())
        self.assertEqual(self.resets.n, 0)

    def test_killed_task_is_restarted_and_recorded(self):
        sup = self.make(backoff_ms=10)
        runs = []

        async def forever():
            runs.append(1)
            while True:
                await asyncio.Event().wait()

        async def main():
            sup.spawn("plc_rx", forever)
            asyncio.create_task(sup.run())
            await spin()
            sup.task("plc_rx").cancel()  # as from the REPL
            await spin()
            self.clock.advance(10)
            await spin()
            sup.stop()
            await spin()

        asyncio.run(main())
        self.assertEqual(len(runs), 2)
        self.assertEqual(self.faults.recent(), [("CancelledError", "plc_rx", 1000)])

    def test_returning_task_counts_as_failure(self):
        sup = self.make(backoff_ms=10)

        async def quits():
            return 5

        async def main():
            sup.spawn("quits", quits)
            asyncio.create_task(sup.run())
            await spin()
            sup.stop()
            await spin()

        asyncio.run(main())
        self.assertEqual(self.faults.recent()[0][:2], ("TaskReturned", "quits"))
        self.assertTrue(issubclass(TaskReturned, Exception))

    def test_keeps_failing_then_reset(self):
        sup = self.make(backoff_ms=10, restarts_max=3)
        runs = []

        async def broken():
            runs.append(1)
            raise OSError("no device")

        async def main():
            sup.spawn("drv", broken)
            runner = asyncio.create_task(sup.run())
            for _ in range(10):
                await spin()
                self.clock.advance(1000)
            await spin()
            self.assertTrue(runner.done())

        asyncio.run(main())
        self.assertEqual(len(runs), 4)  # the first run and restarts_max restarts
        self.assertEqual(self.resets.n, 1)
        self.assertIn("drv failed 4 times", sup.reset_reason)
        self.assertEqual(self.faults.count, 4)

    def test_failures_far_apart_do_not_add_up(self):
        sup = self.make(backoff_ms=10, restarts_max=1)
        go = asyncio.Event()

        async def sometimes():
            await go.wait()
            go.clear()
            raise ValueError()

        async def main():
            sup.spawn("w", sometimes)
            asyncio.create_task(sup.run())
            for _ in range(4):
                await spin()
                self.clock.advance(120_000)  # a long healthy run before each failure
                await spin()
                go.set()
                await spin()
                self.clock.advance(10)
            await spin()
            sup.stop()
            await spin()

        asyncio.run(main())
        self.assertEqual((self.faults.count, self.resets.n), (4, 0))

    def test_loop_handler_records_unawaited_task_errors(self):
        sup = self.make()

        async def detached():
            raise KeyError("lost")

        async def main():
            sup.install()
            asyncio.create_task(detached())
            await spin()

        asyncio.run(main())
        self.assertEqual(self.faults.recent(), [("KeyError", "asyncio", 1000)])

    def test_watchdog_is_fed_while_the_loop_runs(self):
        class Wdt:
            feeds = 0

            def feed(self):
                self.feeds += 1

        wd = Wdt()
        sup = self.make(feed_ms=0)
        sup.watchdog = wd

        async def main():
            sup.install()
            await spin(10)
            sup.stop()
            await spin()

        asyncio.run(main())
        self.assertGreater(wd.feeds, 3)
        self.assertEqual(wd.feeds, sup.feeds)


# --- a whole meter on a scripted PHY ----------------------------------------------------------


def _meter(tag, strict):
    import config
    from app import Meter
    from drivers.sim.flash import SimFlash
    from drivers.sim.script_phy import ScriptPhy
    from hw import Hardware

    for p in ("build", TMP):
        try:
            os.mkdir(p)
        except OSError:
            pass
    path = "%s/%s.bin" % (TMP, tag)
    try:
        os.remove(path)
    except OSError:
        pass
    clock = ManualClock(5000)
    phy = ScriptPhy(clock)
    hw = Hardware("unix_sim", clock=clock, phy=phy, flash=SimFlash(path, 4096, 4))
    cfg = config.load(overrides={"aca": ME.hex(), "seed": 1})
    resets = Resets()
    return Meter(hw, cfg, reset=resets, strict=strict), phy, clock, resets


class TestMeterSupervision(unittest.TestCase):
    def test_clean_exchange_records_no_fault(self):
        meter, phy, clock, resets = _meter("clean", strict=True)

        async def main():
            meter.start()
            runner = asyncio.create_task(meter.supervisor.run())
            await spin()
            phy.push(mk(ME, lsdu=b"\x02\x00\x3f"), 4995)  # ended 5 ms before the hand-up
            await spin()
            clock.set(5015)  # t_end + TEL
            await spin()
            meter.supervisor.stop()
            await spin()
            self.assertTrue(runner.done())

        asyncio.run(main())
        self.assertEqual([s[0] for s in phy.sent], [5015])
        self.assertEqual(meter.faults.count, 0)
        self.assertEqual(meter.mac.stats.internal + meter.mac.stats.app_error, 0)
        self.assertEqual(resets.n, 0)

    def test_driver_raising_is_survived_and_visible(self):
        meter, phy, clock, resets = _meter("drv", strict=False)
        phy.fail = 1

        async def main():
            meter.start()
            asyncio.create_task(meter.supervisor.run())
            await spin()
            phy.push(mk(ME, lsdu=b"\x02\x00\x3f"), 5000)
            await spin()  # recv() raised: plc_rx died and waits out its back-off
            self.assertEqual(meter.faults.recent(), [("OSError", "plc_rx", 5000)])
            clock.advance(100)
            await spin()  # restarted: takes the frame still queued
            clock.set(5120)
            await spin()
            meter.supervisor.stop()
            await spin()

        asyncio.run(main())
        self.assertEqual(len(phy.sent), 1)
        st = meter.status()
        self.assertEqual(st["faults"], 1)
        self.assertEqual(st["recent_faults"][0][:2], ("OSError", "plc_rx"))
        self.assertEqual(st["tasks"]["tasks"]["plc_rx"]["restarts"], 1)
        self.assertEqual(resets.n, 0)
