"""Contract tests: every implementation against each interface of firmware/lib/interfaces.py.

- unix_sim: boards.unix_sim.build() and its drivers (SimFlash, SimRtc, SimDisplay, the relay
  on a LatchContact, SimWdt behind the Watchdog adapter, SupplyInput on a SimPin);
- each real board's build() (boards/nucleo_f429zi.py, boards/esp32_devkitc.py), both PLC
  backends, executed here against the fake port modules in host_tests/mp/fakes/ (only the real
  ports' APIs, cited there); the STM32 store flash runs on the flash-controller model;
- a meter built on each board answers a READ of the status word 0x003F through a fake PHY.
The certified-modem backend on its simulator is checked in host_tests/py/test_contracts_modem.py
(the simulator is a CPython program). Register-level sequences and the STM32 flash power-cut
tests are in test_contracts_stm32.py.
"""

import asyncio
import os
import struct
import unittest

import config
import interfaces
from contract_env import read_request, read_status_word, use_port
from fakes import fakehw

TMP = "build/test_contracts"
# the interfaces a real board fills (checked by name: a field a board should give and does not
# shows up here); the PHY is checked on its own, the B-Node link is unix_sim only so far
BOARD_FIELDS = sorted(
    (
        "clock",
        "flash",
        "rtc",
        "optical",
        "display",
        "relay",
        "led",
        "watchdog",
        "supply",
        "metrology",
        "button",
    )
)


def _fresh_state_dir(name):
    """A state directory without files from an earlier run (the board's build() creates it)."""
    d = TMP + "/" + name
    try:
        for f in os.listdir(d):
            os.remove(d + "/" + f)
    except OSError:
        pass
    return d


# a meter's own identity: real boards keep the radio off with the demo ACA and keys
_OWN = {
    "aca": "a1a2a3a4a5a6",
    "key_write": "f0e1d2c3b4a5968778695a4b3c2d1e0f",
    "key_read": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
}


def _cfg(**kw):
    cfg = dict(_OWN)
    cfg.update(kw)
    cfg["seed"] = 7
    return config.load(None, cfg)


def _status_flags(test, sent, aca):
    test.assertEqual(len(sent), 1, "exactly one answer")
    ans = sent[0]
    test.assertEqual(ans[0], len(ans) - 1)  # LT counts the bytes after it
    test.assertEqual(ans[1:7], aca)  # the meter answers with its own ACA
    test.assertTrue(ans[8] & 0x80, "uplink bit set in RSV")
    test.assertEqual(ans[-9], 3)  # READ.RESP
    return struct.unpack(">Q", ans[-8:])[0]


def _supply_counts_edges(test, s, pin):
    """Two supply losses through `pin` (mains present = high): each falling edge wakes
    wait_loss() and counts one loss, the rising edges count none."""
    interfaces.check_supply(s)
    pin.value(1)
    test.assertTrue(s.present())

    async def main():
        for _ in range(2):  # a second outage after the mains came back
            waiter = asyncio.create_task(s.wait_loss())
            await asyncio.sleep_ms(0)
            test.assertFalse(waiter.done())
            pin.value(0)  # mains gone: the falling edge runs the handler
            await waiter
            pin.value(1)
        return s.losses

    test.assertEqual(asyncio.run(main()), 2)
    test.assertTrue(s.present())
    test.assertEqual(s.losses, 2)  # rising edges: not losses


class TestInterfaceChecks(unittest.TestCase):
    """The check_* helpers themselves catch broken implementations."""

    def test_contract_checks_reject_broken_devices(self):
        class NoErase:
            def ioctl(self, op, arg):
                return {4: 4, 5: 4096, 6: 0}.get(op)

            def readblocks(self, b, buf, off=0):
                for i in range(len(buf)):
                    buf[i] = 0

            def writeblocks(self, b, buf, off=None):
                pass

        with self.assertRaises(interfaces.ContractError):
            interfaces.check_block_device(NoErase())

        class LateRtc:
            def seconds(self):
                return 5

            def set(self, s):
                pass

        with self.assertRaises(interfaces.ContractError):
            interfaces.check_rtc(LateRtc())

        class Phy:
            async def send(self, f):
                pass

            async def recv(self):
                pass

        with self.assertRaises(interfaces.ContractError):
            interfaces.check_phy(Phy())  # no airtime_ms


class TestUnixSim(unittest.TestCase):
    def setUp(self):
        use_port(None)

    def test_contracts_fakes_only_where_selected(self):
        import sys

        import machine

        self.assertFalse(hasattr(machine, "__file__"))  # the unix port's built-in
        use_port("stm32")
        import machine as fake

        self.assertTrue(fake.__file__.endswith("fakes/stm32/machine.py"))
        use_port(None)
        self.assertNotIn("machine", sys.modules)
        import machine as again

        self.assertFalse(hasattr(again, "__file__"))
        for p in sys.path:
            self.assertNotIn("fakes/", p)

    def test_contracts_unix_sim_board(self):
        import boards.unix_sim as board

        d = _fresh_state_dir("unix")
        hw = board.build(_cfg(state_dir=d))
        done = interfaces.check_hardware(hw)
        for name in ("clock", "flash", "rtc", "display", "relay", "led", "watchdog", "supply"):
            self.assertIn(name, done)
        self.assertIsNone(hw.phy)  # no PLC configured

    def test_contracts_unix_sim_simulated_time_drives_the_rtc(self):
        # a board build in simulated time hands every user the same clock: RTC, metrology
        import boards.unix_sim as board

        d = _fresh_state_dir("unix_simtime")
        hw = board.build(_cfg(state_dir=d, sim_start=836_157_600, sim_until=836_161_200))
        self.assertEqual(hw.rtc.seconds(), 836_157_600)
        hw.clock.set(90_500)
        self.assertEqual(hw.rtc.seconds(), 836_157_690)

    def test_contracts_unix_sim_meter_reads_status_word(self):
        import boards.unix_sim as board

        d = _fresh_state_dir("unix_meter")
        cfg = _cfg(state_dir=d)
        hw = board.build(cfg)
        hw.rtc.set(800_000_000)  # 2025: set
        sent, meter = read_status_word(hw, cfg)
        flags = _status_flags(self, sent, meter.aca)
        from datamodel import registers

        self.assertEqual(flags & registers.SW_CLOCK_NOT_SET, 0)
        self.assertTrue(flags & registers.SW_FIRST_BOOT)

    def test_contracts_sim_watchdog_same_path_and_starves(self):
        from clock import ManualClock
        from drivers.watchdog import SimWdt, Watchdog, WatchdogReset

        clock = ManualClock()
        wd = Watchdog(SimWdt.factory(clock), 100)
        self.assertFalse(wd.armed())
        wd.feed()
        clock.advance(100)
        wd.feed()  # exactly on time
        self.assertEqual(wd.feeds, 2)
        clock.advance(101)
        with self.assertRaises(WatchdogReset):
            wd.feed()
        log = []
        wd2 = Watchdog(SimWdt.factory(clock, log.append), 50)
        wd2.feed()
        clock.advance(80)
        wd2._wdt.check()
        self.assertEqual(log, [30])
        self.assertEqual(wd2._wdt.resets, 1)

    def test_contracts_supply_input_counts_edges(self):
        from drivers.sim.pin import LoopPin, SimPin
        from drivers.supply import SupplyInput

        # SimPin has only machine.Pin's value()/irq(): the port path, a ThreadSafeFlag;
        # unix_sim's LoopPin hands in its own asyncio.Event (drivers/pin_wake.py)
        for cls, flag in ((SimPin, asyncio.ThreadSafeFlag), (LoopPin, asyncio.Event)):
            pin = cls("supply", 1)
            s = SupplyInput(pin)
            self.assertIsInstance(s._flag, flag)
            _supply_counts_edges(self, s, pin)

    def test_contracts_relay_never_blocks_and_protects_coil(self):
        from clock import ManualClock
        from drivers.relay import LatchingRelay
        from drivers.sim.pin import LatchContact

        clock = ManualClock()
        c = LatchContact(None)
        r = LatchingRelay(c.set_coil, c.reset_coil, 50, c, clock, 1000)
        interfaces.check_relay(r)

        async def main():
            r.open()  # returns at once: the pulse runs as a task
            self.assertTrue(r.busy())
            await asyncio.sleep_ms(0)
            self.assertEqual(c.reset_coil.value(), 1)  # coil energised
            clock.advance(50)
            await asyncio.sleep_ms(0)
            await asyncio.sleep_ms(0)
            self.assertEqual(c.reset_coil.value(), 0)
            self.assertFalse(r.state())
            r.close()
            r.open()
            r.close()  # inside the minimum interval: waits; the last request wins
            await asyncio.sleep_ms(0)
            self.assertEqual(c.set_coil.value(), 0)
            self.assertEqual(r.deferred, 1)
            clock.advance(999)
            await asyncio.sleep_ms(0)
            self.assertEqual(c.set_coil.value(), 0)  # 1 ms of the interval still to go
            clock.advance(1)
            await asyncio.sleep_ms(0)
            await asyncio.sleep_ms(0)
            self.assertEqual(c.set_coil.value(), 1)
            clock.advance(50)
            await r.settle()

        asyncio.run(main())
        self.assertEqual(r.operations, 2)  # open, then only the last close
        self.assertTrue(r.state())
        self.assertFalse(r.fault())
        self.assertEqual(c.reset_coil.edges + c.set_coil.edges, 4)

    def test_contracts_relay_pin_released_when_cancelled(self):
        from clock import ManualClock
        from drivers.relay import LatchingRelay
        from drivers.sim.pin import SimPin

        clock = ManualClock()
        s, rs = SimPin("s"), SimPin("r")
        r = LatchingRelay(s, rs, 50, None, clock, 0)

        async def main():
            r.close()
            await asyncio.sleep_ms(0)
            self.assertEqual(s.value(), 1)
            r._task.cancel()
            await asyncio.sleep_ms(0)

        asyncio.run(main())
        self.assertEqual(s.value(), 0)
        self.assertFalse(r.busy())

    def test_contracts_relay_position_feedback_counts_failures(self):
        from drivers.relay import LatchingRelay
        from drivers.sim.pin import SimPin

        welded = SimPin("sense", 1)  # contact stuck closed
        r = LatchingRelay(SimPin("s"), SimPin("r"), 0, welded, None, 0)
        r.open()
        asyncio.run(r.settle())
        self.assertEqual((r.failures, r.fault(), r.state()), (1, True, True))
        r.close()
        asyncio.run(r.settle())
        self.assertEqual((r.failures, r.fault()), (1, False))

    def test_contracts_civil_time_against_port_gmtime(self):
        import time

        import civiltime

        epoch = 946684800  # unix port counts from 1970
        s = 0
        step = 86400 * 13 + 3607
        while s < 3_200_000_000:  # 2000 .. 2101: leap years and the 2100 non-leap year
            g = time.gmtime(s + epoch)
            want = (g[0], g[1], g[2], g[3], g[4], g[5], g[6])
            self.assertEqual(civiltime.datetime(s), want, s)
            self.assertEqual(civiltime.seconds(*want[:6]), s)
            s += step
        for y, mo, d in ((2000, 2, 29), (2024, 2, 29), (2100, 3, 1), (2099, 12, 31)):
            s = civiltime.seconds(y, mo, d, 23, 59, 59)
            self.assertEqual(civiltime.datetime(s)[:3], (y, mo, d))


class _BoardCase(unittest.TestCase):
    PORT = None
    BOARD = None

    def setUp(self):
        use_port(self.PORT)

    def tearDown(self):
        use_port(None)

    def board(self):
        return __import__("boards." + self.BOARD, None, None, ["build"])

    def build(self, **cfg):
        return self.board().build(_cfg(**cfg))

    def check_edge_inputs(self, pressed):
        # the supply input and the button on the fake port's machine.Pin (real API only): both
        # wake through a ThreadSafeFlag set by the pin's edge handler
        hw = self.build()
        board = self.board()
        self.assertIsInstance(hw.supply._flag, asyncio.ThreadSafeFlag)
        _supply_counts_edges(self, hw.supply, self.state.pins[board.SUPPLY_PIN])
        self.assertIsInstance(hw.button._flag, asyncio.ThreadSafeFlag)
        pin = self.state.pins[board.BUTTON_PIN]
        pin.value(pressed)
        pin.value(1 - pressed)
        self.assertEqual(hw.button.edges, 2)  # both edges of a press reach the handler


class TestNucleo(_BoardCase):
    PORT = "stm32"
    BOARD = "nucleo_f429zi"

    def setUp(self):
        super().setUp()
        self.state = fakehw.board_stm32()

    def test_contracts_nucleo_metrology_ic_on_uart5(self):
        # no STPM3x answers on the fake UART: the driver probes at 115200 then at the IC's
        # reset rate 9600, gives up within its bounded waits, counts and flags the failure
        hw = self.build()
        uart = self.state.uarts[5]
        self.assertEqual(uart.settings[0][:4], (9600, 8, None, 1))
        from metrology.sample import Sample

        self.assertFalse(asyncio.run(hw.metrology.read(Sample())))
        probe = bytes.fromhex("08ffffff16")  # CRC by crccheck, reflected CRC-8
        self.assertEqual(bytes(uart.tx), probe + probe)
        self.assertEqual([st[0] for st in uart.settings[-2:]], [115200, 9600])
        self.assertEqual((hw.metrology.errors, hw.metrology.fault()), (1, True))
        self.assertEqual(hw.metrology.log.recent()[0][:2], ("StpmTimeout", "stpm3x.probe"))

    def test_contracts_nucleo_soft_phy_build_satisfies_interfaces(self):
        hw = self.build()
        done = interfaces.check_hardware(hw, ("phy",))
        # every field but the B-Node link (unix_sim only), phy below
        self.assertEqual(sorted(done), BOARD_FIELDS)
        import machine

        self.assertFalse(isinstance(hw.rtc, machine.RTC))  # adapters, never port objects
        self.assertFalse(isinstance(hw.optical, machine.UART))
        self.assertFalse(isinstance(hw.led, machine.Pin))
        hw.led.on()
        self.assertEqual(self.state.pins["PB0"].value(), 1)
        self.assertEqual(self.state.wdts, [])  # the watchdog waits for the first feed
        hw.watchdog.feed()
        self.assertEqual(self.state.wdts[0].timeout, 8000)
        self.assertEqual(self.state.wdts[0].feeds, 1)
        self.assertEqual(self.state.flash.hard_locked, False)
        self.assertEqual(self.state.irq_disabled, 0)  # every disable_irq was undone
        interfaces.check_phy(hw.phy)

    def test_contracts_nucleo_flash_map(self):
        # docs/download.md §3: two 384 KiB slots and the store fill bank 2 (no profile flash);
        # erasing a whole slot erases its own sectors only, and the store keeps its records
        import store

        hw = self.build()
        s = store.Store(hw.flash)
        s.put(1, b"kept")
        model = self.state.flash
        model.erases.clear()
        for dev in hw.slots[1:]:
            self.assertEqual(interfaces.check_block_device(dev, 0), (3, 0x20000))
            for b in range(3):
                dev.ioctl(6, b)
            dev.ioctl(3, 0)
        self.assertEqual(sorted(model.erases), list(range(12, 22)))
        self.assertEqual(store.Store(hw.flash).get(1), b"kept")
        self.assertIsNone(hw.profile_flash)

    def test_contracts_nucleo_supply_and_button_edges(self):
        self.check_edge_inputs(pressed=1)  # B1 is high while pressed

    def test_contracts_nucleo_rtc_writes_stm32_weekday(self):
        hw = self.build()
        hw.rtc.set(790_000_000)  # 2025-01-12 12:26:40 UTC, a Sunday
        self.assertEqual(self.state.rtc[:7], [2025, 1, 12, 7, 12, 26, 40])
        self.assertEqual(hw.rtc.seconds(), 790_000_000)

    def test_contracts_nucleo_serial_line_settings(self):
        hw = self.build()
        uart = self.state.uarts[6]
        self.assertEqual(uart.settings[-1], (300, 7, 0, 1, 0))  # 300 Bd 7E1, non-blocking
        hw.optical.configure(9600, 7, 0, 1)
        self.assertEqual(uart.settings[-1][:4], (9600, 7, 0, 1))
        self.assertIsNone(hw.optical.read(8))
        uart.rx += b"/?!\r\n"
        self.assertEqual(hw.optical.any(), 5)
        self.assertEqual(hw.optical.read(8), b"/?!\r\n")
        out = b"\x06050\r\n"
        sent = 0
        for _ in range(len(out)):  # a write may take fewer bytes than offered, never blocks
            sent += hw.optical.write(out[sent:])
            if sent == len(out):
                break
        self.assertEqual(sent, len(out))
        dr = bytes(v for a, v in fakehw.BUS.log if a == 0x40011404 and v is not None)
        self.assertEqual(bytes(uart.tx) or dr, out)  # through the UART, or its data register
        self.assertTrue(hw.optical.tx_idle())

    def test_contracts_nucleo_modem_backend(self):
        hw = self.build(plc_backend="modem")
        interfaces.check_phy(hw.phy)
        self.assertEqual(self.state.uarts[2].settings[0][0], 57600)

    def test_contracts_nucleo_meter_answers_status_word(self):
        cfg = _cfg()
        hw = self.board().build(cfg)
        sent, meter = read_status_word(hw, cfg)
        flags = _status_flags(self, sent, meter.aca)
        from datamodel import registers

        # fake RTC at its stm32 power-on date (2015): not set; first boot on an erased bank 2
        self.assertTrue(flags & registers.SW_CLOCK_NOT_SET)
        self.assertTrue(flags & registers.SW_FIRST_BOOT)
        self.assertGreater(self.state.flash.words, 0)  # the boot count went to bank 2
        self.assertEqual(meter.store.get(__import__("storekeys").BOOT_COUNT), b"\x00\x00\x00\x01")


class TestEsp32(_BoardCase):
    PORT = "esp32"
    BOARD = "esp32_devkitc"

    def setUp(self):
        super().setUp()
        self.state = fakehw.board_esp32()

    def test_contracts_esp32_profile_partition(self):
        # docs/profiles.md: with an "mmprof" partition the profiles get their flash
        self.state.partitions.append((1, 0x06, "mmprof", 44 * 4096))
        hw = self.build()
        interfaces.check_block_device(hw.profile_flash)
        self.assertEqual(hw.profile_flash.ioctl(4, 0), 44)

    def test_contracts_esp32_soft_phy_build_satisfies_interfaces(self):
        hw = self.build()
        done = interfaces.check_hardware(hw, ("phy",))
        self.assertEqual(sorted(done), BOARD_FIELDS)  # no B-Node link on the board
        self.assertEqual(self.state.freq, 240_000_000)
        interfaces.check_phy(hw.phy)

    def test_contracts_esp32_i2s_waits_end_when_the_clock_stops(self):
        # the fake I2S never delivers nor drains: capture and transmit give up with ETIMEDOUT
        from array import array

        hw = self.build()
        cap = hw.phy.capture
        with self.assertRaises(OSError) as cm:
            asyncio.run(cap.read())
        self.assertEqual((cm.exception.errno, cap.stalls), (110, 1))
        mod = hw.phy.modulator
        with self.assertRaises(OSError) as cm:
            asyncio.run(mod.send(array("H", [2048] * 64)))
        self.assertEqual((cm.exception.errno, mod.stalls), (110, 1))
        self.assertEqual(self.state.pins[4].value(), 0)  # line driver off again

    def test_contracts_esp32_partition_fits_the_store(self):
        import esp32
        import store

        hw = self.build()
        n, bs = interfaces.check_block_device(hw.flash)
        self.assertEqual((n, bs), (16, 4096))
        s = store.Store(hw.flash)
        for i in range(600):  # several compactions around the 16-block ring
            s.put(1 + i % 3, b"v%d" % i)
        again = store.Store(hw.flash)
        self.assertEqual(again.get(3), b"v599")
        self.assertGreater(again.stats()["generation"], 4)
        # a partition opened with another block size cannot erase: an error, not a silent 0
        from drivers.esp32_flash import PartitionFlash

        p = PartitionFlash(esp32, "mmstore")
        p._p.block_size = 512
        with self.assertRaises(OSError):
            p.ioctl(6, 0)

    def test_contracts_esp32_missing_partition_is_a_clear_error(self):
        fakehw.STATE.partitions[:] = [e for e in fakehw.STATE.partitions if e[2] != "mmstore"]
        with self.assertRaises(OSError) as cm:
            self.build()
        self.assertIn("mmstore", str(cm.exception))

    def test_contracts_esp32_supply_and_button_edges(self):
        self.check_edge_inputs(pressed=0)  # BOOT is low while pressed

    def test_contracts_esp32_rtc_writes_esp32_weekday(self):
        hw = self.build()
        hw.rtc.set(790_000_000)  # a Sunday: 6 on the esp32 (Monday = 0)
        self.assertEqual(self.state.rtc[:7], [2025, 1, 12, 6, 12, 26, 40])
        self.assertEqual(hw.rtc.seconds(), 790_000_000)

    def test_contracts_esp32_modem_backend(self):
        hw = self.build(plc_backend="modem")
        interfaces.check_phy(hw.phy)

    def test_contracts_esp32_meter_answers_status_word(self):
        cfg = _cfg()
        hw = self.board().build(cfg)
        hw.rtc.set(800_000_000)
        sent, meter = read_status_word(hw, cfg)
        flags = _status_flags(self, sent, meter.aca)
        from datamodel import registers

        self.assertEqual(flags & registers.SW_CLOCK_NOT_SET, 0)

    def test_contracts_read_request_is_the_documented_vector(self):
        # docs/datalink.md direct frame, READ.REQ of 0x003F to ACA 11 22 33 44 55 66
        want = bytes.fromhex("0d" + "112233445566" + "21" + "00" + "01" + "00" + "02003f")
        self.assertEqual(read_request(bytes.fromhex("112233445566"), 0x003F), want)
