"""Clock, config, board selection, console and the unix_sim peripherals."""

import asyncio
import os
import unittest

TMP = "build/test_foundation"


def _mkdir(p):
    acc = ""
    for part in p.split("/"):
        acc = acc + "/" + part if acc else part
        try:
            os.mkdir(acc)
        except OSError:
            pass


class TestClock(unittest.TestCase):
    def test_real_clock_is_monotonic(self):
        from clock import Clock

        c = Clock()
        a = c.now_ms()

        async def main():
            await c.sleep_ms(20)  # an awaitable, not a coroutine (allocates nothing)

        asyncio.run(main())
        b = c.now_ms()
        self.assertGreaterEqual(b - a, 15)

    def test_manual_clock_wakes_sleepers_in_order(self):
        from clock import ManualClock

        c = ManualClock(1000)
        woke = []

        async def sleeper(name, ms):
            await c.sleep_ms(ms)
            woke.append((name, c.now_ms()))

        async def driver():
            asyncio.create_task(sleeper("b", 50))
            asyncio.create_task(sleeper("a", 10))
            await asyncio.sleep_ms(0)
            self.assertEqual(c.next_wakeup(), 1010)
            c.advance(10)
            await asyncio.sleep_ms(0)
            await asyncio.sleep_ms(0)
            self.assertEqual(woke, [("a", 1010)])
            c.set(2000)
            await asyncio.sleep_ms(0)
            await asyncio.sleep_ms(0)

        asyncio.run(driver())
        self.assertEqual(woke, [("a", 1010), ("b", 2000)])
        c.set(5)  # never goes backwards
        self.assertEqual(c.now_ms(), 2000)


class TestConfig(unittest.TestCase):
    def test_defaults_validate(self):
        import config

        cfg = config.load()
        self.assertEqual(len(config.raw(cfg, "aca")), 6)

    def test_rejects_bad_values(self):
        import config

        for bad in ({"aca": "0102"}, {"key_read": "zz"}, {"typo": 1}, {"phase": 7}):
            with self.assertRaises(config.ConfigError):
                config.load(overrides=bad)

    def test_loads_json_file(self):
        import config

        _mkdir(TMP)
        with open(TMP + "/c.json", "w") as f:
            f.write('{"aca": "aabbccddeeff", "serial": "X1"}')
        cfg = config.load(TMP + "/c.json")
        self.assertEqual(cfg["serial"], "X1")
        self.assertEqual(config.raw(cfg, "aca"), b"\xaa\xbb\xcc\xdd\xee\xff")


class TestBoardSelect(unittest.TestCase):
    def test_unix_port_is_unix_sim(self):
        import board_select

        self.assertEqual(board_select._from_port(), "unix_sim")
        self.assertEqual(board_select.load("unix_sim").NAME, "unix_sim")

    def test_board_txt_wins_over_port(self):
        import board_select

        _mkdir(TMP)
        with open(TMP + "/board.txt", "w") as f:
            f.write("esp32_devkitc\n")
        if board_select._from_env() is None:
            self.assertEqual(board_select.detect(TMP), "esp32_devkitc")
        with open(TMP + "/board.txt", "w") as f:
            f.write("bogus\n")
        if board_select._from_env() is None:
            with self.assertRaises(ValueError):
                board_select.detect(TMP)

    def test_every_board_names_its_pins(self):
        import board_select

        for name in board_select.BOARDS:
            b = board_select.load(name)
            self.assertEqual(b.NAME, name)
            self.assertTrue(callable(b.build))
            if name != "unix_sim":
                for attr in ("CPU_HZ", "OPTICAL_UART", "RELAY_SET_PIN", "DISPLAY_ADDR"):
                    self.assertTrue(hasattr(b, attr), name + " lacks " + attr)


class TestConsole(unittest.TestCase):
    def test_eval_exec_and_errors(self):
        from console import Console

        ns = {"x": 2}
        c = Console(ns)
        self.assertEqual(c.execute("x * 21"), "42\n")
        self.assertEqual(c.execute("y = x + 1"), "")
        self.assertEqual(ns["y"], 3)
        self.assertIn("ZeroDivisionError", c.execute("1/0"))
        self.assertIn("NameError", c.execute("nope"))

    def test_runs_lines_from_a_stream(self):
        from console import Console

        class Lines:
            def __init__(self, lines):
                self.lines = list(lines)

            async def readline(self):
                return self.lines.pop(0) if self.lines else b""

        out = []
        ns = {}
        src = [b"def f(a):\n", b"    return a + 1\n", b"\n", b"f(41)\n"]
        asyncio.run(Console(ns, Lines(src), out.append, "> ").run())
        self.assertIn("42\n", out)


class TestSimPeripherals(unittest.TestCase):
    def test_latching_relay_keeps_position_across_restart(self):
        from drivers.relay import LatchingRelay
        from drivers.sim.pin import LatchContact

        _mkdir(TMP)
        path = TMP + "/relay"
        try:
            os.remove(path)
        except OSError:
            pass
        c = LatchContact(path)
        r = LatchingRelay(c.set_coil, c.reset_coil, 0, c, None, 0)
        self.assertTrue(r.state())  # delivered closed
        r.open()
        asyncio.run(r.settle())
        self.assertFalse(r.state())
        self.assertFalse(r.fault())
        self.assertEqual(r.operations, 1)
        c2 = LatchContact(path)  # "power cycle"
        self.assertEqual(c2.value(), 0)
        r2 = LatchingRelay(c2.set_coil, c2.reset_coil, 0, c2, None, 0)
        r2.close()
        asyncio.run(r2.settle())
        self.assertTrue(r2.state())

    def test_relay_fault_when_contact_disagrees(self):
        from drivers.relay import LatchingRelay
        from drivers.sim.pin import SimPin

        stuck = SimPin("sense", 1)  # welded contact: always closed
        r = LatchingRelay(SimPin("s"), SimPin("r"), 0, stuck, None, 0)
        r.open()
        asyncio.run(r.settle())
        self.assertTrue(r.fault())

    def test_display_writes_pbm(self):
        from drivers.sim.display import SimDisplay

        _mkdir(TMP)
        d = SimDisplay(TMP + "/d.pbm")
        d.lines(["1.8.0", "000123.456 kWh"])
        with open(TMP + "/d.pbm", "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"P4\n128 64\n"))
        self.assertEqual(len(data), len(b"P4\n128 64\n") + 128 * 64 // 8)
        self.assertTrue(any(data[12:]))  # something was drawn

    def test_rtc_is_settable_and_persistent(self):
        from drivers.sim.rtc import SimRtc

        _mkdir(TMP)
        r = SimRtc(TMP + "/rtc")
        r.set(100_000_000)
        self.assertLess(abs(r.seconds() - 100_000_000), 2)
        self.assertLess(abs(SimRtc(TMP + "/rtc").seconds() - 100_000_000), 2)
