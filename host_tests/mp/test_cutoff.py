"""Cut-off relay (docs/cutoff.md) on a real meter: the disconnect-control state machine driven
by authenticated COMMANDs through the real AL and security layer, refusals (plain, bad TMAC,
replay) that change nothing, the contract power limit fed by a stand-in for the energy engine
(it writes the POWER field and calls meter.on_second, as Seam D's engine does), persistence
across restarts that never pulses the coil, the button driver and the press dispatcher."""

import asyncio
import struct
import unittest

import alfix
import micropython
import sec_fixture
import storekeys
from clock import ManualClock
from cutoff import control
from datamodel import events, registers
from datamodel import metering as mt
from drivers.button import Button
from drivers.sim.pin import SimPin
from test_smitp_al import Case

ACK = b"\xf3"  # ACK A-node, authenticated


class CountingRelay(alfix.Relay):
    """alfix's synchronous relay that counts coil operations; `start` is the contact position
    it powers up with (a latching relay keeps it)."""

    start = True

    def __init__(self):
        super().__init__()
        self.closed = CountingRelay.start
        self.ops = 0

    def open(self):
        self.ops += 1
        super().open()

    def close(self):
        self.ops += 1
        super().close()


class CutoffCase(Case):
    NAME = "cutoff"

    def setUp(self):
        self._relay = alfix.Relay
        alfix.Relay = CountingRelay
        CountingRelay.start = True
        super().setUp()

    def tearDown(self):
        alfix.Relay = self._relay
        super().tearDown()

    def state(self):
        return self.m.cutoff.state()

    def flags(self):
        return struct.unpack(">Q", self.read(0x003F)[1:])[0]

    def second(self, power_w, n=1):
        """n metering seconds at power_w: what the energy engine does each second."""
        for _ in range(n):
            self.m.metering.set(mt.POWER, 4, power_w)
            for fn in self.m.on_second:
                fn(self.m.wallclock.now())

    def limit(self, delay_s=5, margin=10, power=3000, after=0):
        self.assertEqual(self.write(0x0800, struct.pack(">I", power)), ACK)
        self.assertEqual(self.write(0x0E01, bytes((margin,))), ACK)
        self.assertEqual(self.write(0x0E02, struct.pack(">H", delay_s)), ACK)
        self.assertEqual(self.write(0x0E03, bytes((after,))), ACK)
        self.assertEqual(self.write(0x0E00, b"\x01"), ACK)

    def last_event(self):
        return self.events()[-1][1:]


class TestRemote(CutoffCase):
    def test_disconnect_enable_then_long_press_closes(self):
        relay = self.m.hw.relay
        self.assertEqual(self.state(), "closed")
        self.assertEqual(self.cmd(0x04), ACK)
        self.assertEqual((self.state(), relay.closed, relay.ops), ("open_remote", False, 1))
        self.assertEqual(self.read(0x0D05)[1:], b"\x00")  # DLMS Disconnected
        f = self.flags()
        self.assertTrue(f & registers.SW_RELAY_OPEN and f & registers.SW_CUT_REMOTE)
        # reconnection not enabled: the button does nothing, not even a long press
        self.assertFalse(self.m.cutoff.on_press(2))
        self.assertEqual(self.state(), "open_remote")
        self.assertEqual(self.cmd(0x05), ACK)
        self.assertEqual((self.state(), relay.closed, relay.ops), ("armed", False, 1))
        self.assertEqual(self.read(0x0D00)[1:], b"\x02")
        self.assertEqual(self.read(0x0D05)[1:], b"\x02")  # DLMS Ready_for_reconnection
        self.assertTrue(self.flags() & registers.SW_RELAY_ARMED)
        self.assertFalse(self.m.cutoff.on_press(1))  # a short press is the display's
        self.assertTrue(self.m.cutoff.on_press(2))
        self.assertEqual((self.state(), relay.closed, relay.ops), ("closed", True, 2))
        self.assertEqual(self.last_event(), (events.RELAY_CLOSED, control.BY_BUTTON))
        self.assertEqual(self.flags() & 0xF040, 0)

    def test_enable_on_a_closed_relay_changes_nothing(self):
        n = len(self.events())
        self.assertEqual(self.cmd(0x05), ACK)
        self.assertEqual(self.state(), "closed")
        self.assertEqual((self.m.hw.relay.ops, len(self.events())), (0, n))  # nothing logged

    def test_refused_relay_commands_change_nothing(self):
        relay = self.m.hw.relay
        s = self.snap()
        self.assertEqual(self.req(b"\x12\x04"), b"\xff\x02")  # plain COMMAND: write key needed
        self.assertEqual(self.cmd(0x04, ecc=1), b"\xf5\x02")  # read key: no right to command
        mon = self.m.sec.lmon + 1
        bad = bytearray(sec_fixture.request(118, b"\x04", mon, 5))
        bad[-1] ^= 1  # TMAC (encrypted) damaged
        out = bytes(self.m.al.handle(memoryview(bytes(bad)), alfix.Ctx(ecc=5)))
        self.assertEqual(out[0], 245)  # NACK-auth
        self.assertEqual((self.state(), relay.ops), ("closed", 0))
        self.assertSame(self.snap(), s, 2)
        # a replay: an accepted disconnect sent again after the reconnect
        mon = self.m.sec.lmon + 1
        old = sec_fixture.request(118, b"\x04", mon, 5)
        self.assertEqual(self.m.al.handle(memoryview(old), alfix.Ctx(ecc=5))[0], 243)
        self.assertEqual(self.cmd(0x06), ACK)
        s = self.snap()
        ops = relay.ops
        out = bytes(self.m.al.handle(memoryview(old), alfix.Ctx(ecc=5)))
        self.assertEqual(out[0], 245)
        self.assertEqual((self.state(), relay.ops, relay.closed), ("closed", ops, True))
        self.assertSame(self.snap(), s, 2)

    def test_no_relay_means_not_supported(self):
        self.m.cutoff = None
        self.assertEqual(self.cmd(0x04), b"\xf5\x04")
        self.assertEqual(self.read(0x0D00)[1:], b"\xff")


class TestLimit(CutoffCase):
    def test_sustained_overload_trips_after_the_delay(self):
        self.limit(delay_s=5)
        self.assertEqual(self.read(0x0E05)[1:], struct.pack(">I", 3300))
        self.second(3300, 10)  # at the limit is allowed indefinitely
        self.second(3301, 4)
        self.assertEqual((self.state(), self.m.cutoff.overload_s), ("closed", 4))
        self.assertTrue(self.flags() & registers.SW_OVERLOAD)
        self.assertEqual(self.read(0x0D08)[1:], b"\x00\x04")
        self.second(2000)  # one second below: the count starts again
        self.assertEqual(self.m.cutoff.overload_s, 0)
        self.second(5000, 4)
        self.assertEqual(self.state(), "closed")
        self.second(5000)
        self.assertEqual(self.state(), "open_limit")
        self.assertFalse(self.m.hw.relay.closed)
        self.assertEqual(self.last_event(), (events.LIMIT_TRIP, 500))
        self.assertEqual(self.read(0x0D07)[1:], b"\x00\x01")
        f = self.flags()
        self.assertTrue(f & registers.SW_CUT_LIMIT and not f & registers.SW_OVERLOAD)
        # the customer alone cannot re-arm; the concentrator's enable, then a long press
        self.assertFalse(self.m.cutoff.on_press(2))
        self.second(0, 100)
        self.assertEqual(self.state(), "open_limit")
        self.assertEqual(self.cmd(0x05), ACK)
        self.assertTrue(self.flags() & registers.SW_CUT_LIMIT)  # armed after a limit cut
        self.assertTrue(self.m.cutoff.on_press(2))
        self.assertEqual((self.state(), self.m.hw.relay.closed), ("closed", True))

    def test_export_and_disabled_limit_never_trip(self):
        self.limit(delay_s=1)
        self.second(-50000, 5)  # export is negative
        self.assertEqual(self.write(0x0E00, b"\x00"), ACK)
        self.second(50000, 5)
        self.assertEqual((self.state(), self.m.hw.relay.ops), ("closed", 0))

    def test_button_mode_arms_at_the_trip(self):
        self.limit(delay_s=2, after=1)
        self.second(4000, 2)
        self.assertEqual((self.state(), self.m.hw.relay.closed), ("armed", False))
        self.assertTrue(self.m.cutoff.on_press(2))
        self.assertEqual(self.state(), "closed")

    def test_automatic_mode_closes_after_the_pause(self):
        self.limit(delay_s=2, after=2)
        self.assertEqual(self.write(0x0E04, struct.pack(">H", 30)), ACK)
        self.second(4000, 2)
        self.assertEqual(self.state(), "open_limit")
        x = struct.unpack(">Q", self.read(0x0040, ecc=1)[1:])[0]
        self.assertTrue(x & registers.XS_AUTO_RECONNECT and x & registers.XS_LIMITER_ON)
        self.second(4000, 29)
        self.assertEqual(self.state(), "open_limit")
        self.second(4000)
        self.assertEqual((self.state(), self.m.hw.relay.closed), ("closed", True))
        self.assertEqual(self.last_event(), (events.RELAY_CLOSED, control.BY_AUTOMATIC))

    def test_remote_disconnect_wins_over_the_limit(self):
        self.limit(delay_s=2)
        self.second(4000)
        self.assertEqual(self.cmd(0x04), ACK)
        self.second(4000, 10)
        self.assertEqual((self.state(), self.m.cutoff.limit_trips), ("open_remote", 0))


class TestPersistence(CutoffCase):
    def test_state_survives_a_restart_without_a_pulse(self):
        self.limit(delay_s=1)
        self.second(9000)
        self.assertEqual(self.cmd(0x05), ACK)
        CountingRelay.start = False  # the latch kept the contact open through the power cut
        self.m = self.b.boot()
        self.assertEqual((self.state(), self.m.cutoff.limit_trips), ("armed", 1))
        self.assertEqual(self.m.hw.relay.ops, 0)  # a boot never pulses the coil
        self.assertFalse(self.flags() & registers.SW_CONTACT_MISMATCH)
        self.assertTrue(self.m.cutoff.on_press(2))
        self.assertEqual(self.m.store.get(storekeys.CUTOFF_STATE), b"\x00\x00\x00\x01")

    def test_contact_that_disagrees_is_reported_not_moved(self):
        self.assertEqual(self.cmd(0x04), ACK)
        CountingRelay.start = True  # someone closed the latch while the meter was off
        self.m = self.b.boot()
        self.assertEqual((self.state(), self.m.hw.relay.ops), ("open_remote", 0))
        self.assertTrue(self.flags() & registers.SW_CONTACT_MISMATCH)
        self.assertEqual(self.events()[-1][1:], (events.CONTACT_MISMATCH, 1))
        self.assertEqual(self.cmd(0x04), ACK)  # the concentrator re-asserts: one pulse
        self.assertEqual(self.m.hw.relay.ops, 1)
        self.assertFalse(self.flags() & registers.SW_CONTACT_MISMATCH)

    def test_dead_flash_refuses_commands_but_not_the_limit(self):
        self.limit(delay_s=1)

        def dead(key, value):
            raise OSError(5)

        self.m.store.put = dead
        self.assertEqual(self.cmd(0x04), b"\xf5\x0b")  # NACK 11: the store refused
        self.assertEqual((self.state(), self.m.hw.relay.ops), ("closed", 0))
        faults = self.m.faults.count
        self.second(9000)
        self.assertEqual((self.state(), self.m.hw.relay.closed), ("open_limit", False))
        self.assertGreater(self.m.faults.count, faults)
        self.assertEqual(self.m.faults.recent()[-1][:2], ("OSError", "cutoff.store"))

    def test_damaged_record_reads_as_closed(self):
        self.m.store.put(storekeys.CUTOFF_STATE, b"\x09\x00\x00\x00")
        self.m = self.b.boot()
        self.assertEqual((self.state(), self.m.hw.relay.ops), ("closed", 0))


def _run(coro):
    return asyncio.run(coro)


async def _until(cond, clock, step_ms=10, limit_ms=60000):
    """Advance simulated time in steps until cond() holds (event-driven, no wall time)."""
    t = 0
    while not cond():
        if t >= limit_ms:
            raise AssertionError("condition never held")
        clock.advance(step_ms)
        t += step_ms
        for _ in range(4):
            await asyncio.sleep_ms(0)


class TestButton(unittest.TestCase):
    def setUp(self):
        self.clock = ManualClock()
        self.pin = SimPin("b", 1)
        self.b = Button(self.pin, self.clock, debounce_ms=30, long_ms=2000)
        self.got = []

    async def _collect(self, n):
        while len(self.got) < n:
            self.got.append(await self.b.wait())

    def _hold(self, ms):
        async def go():
            self.pin.value(0)
            t = self.clock.now_ms()
            await _until(lambda: self.clock.now_ms() - t >= ms, self.clock)
            self.pin.value(1)

        return go()

    def test_short_long_and_bounce(self):
        async def main():
            task = asyncio.create_task(self._collect(2))
            await asyncio.sleep_ms(0)
            # bounce: a 10 ms glitch is shorter than the debounce time
            self.pin.value(0)
            self.clock.advance(10)
            self.pin.value(1)
            await _until(lambda: self.clock.now_ms() >= 100, self.clock)
            self.assertEqual(self.got, [])
            await self._hold(200)
            await _until(lambda: len(self.got) == 1, self.clock)
            await self._hold(2500)
            await _until(lambda: len(self.got) == 2, self.clock)
            await task

        _run(main())
        self.assertEqual(self.got, [1, 2])
        self.assertEqual(self.b.presses, 2)
        self.assertGreaterEqual(self.b.edges, 6)

    def test_long_press_reported_once_while_held(self):
        async def main():
            task = asyncio.create_task(self._collect(2))
            await asyncio.sleep_ms(0)
            await self._hold(6000)  # one long press, however long it is held
            t = self.clock.now_ms()
            await _until(lambda: self.clock.now_ms() - t >= 100, self.clock)
            await self._hold(100)
            await _until(lambda: len(self.got) == 2, self.clock)
            await task

        _run(main())
        self.assertEqual(self.got, [2, 1])

    def test_interrupt_does_not_allocate(self):
        micropython.heap_lock()
        try:
            for _ in range(10):
                self.pin.value(0)
                self.pin.value(1)
        finally:
            micropython.heap_unlock()
        self.assertEqual(self.b.edges, 20)


class FakeDisplay:
    def __init__(self):
        self.presses = []

    def on_press(self, kind):
        self.presses.append(kind)


class TestDispatcher(CutoffCase):
    def test_presses_go_to_the_cutoff_first_then_the_display(self):
        from cutoff import dispatch

        clock = self.b.clock
        pin = SimPin("button", 1)
        self.m.hw.button = Button(pin, clock)
        self.m.display_mgr = FakeDisplay()
        self.assertEqual(self.cmd(0x04), ACK)
        self.assertEqual(self.cmd(0x05), ACK)

        async def hold(ms):
            pin.value(0)
            t = clock.now_ms()
            await _until(lambda: clock.now_ms() - t >= ms, clock)
            pin.value(1)
            await _until(lambda: clock.now_ms() - t >= ms + 100, clock)

        async def main():
            task = asyncio.create_task(dispatch(self.m))
            await asyncio.sleep_ms(0)
            await hold(100)  # short: the display scrolls, the relay stays armed
            self.assertEqual(self.state(), "armed")
            await hold(2500)  # long: the cut-off consumes it
            self.assertEqual(self.state(), "closed")
            await hold(2500)  # long while closed: the display's
            task.cancel()

        _run(main())
        self.assertEqual(self.m.display_mgr.presses, [1, 2])


if __name__ == "__main__":
    unittest.main()
