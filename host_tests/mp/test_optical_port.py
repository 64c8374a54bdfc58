"""Optical port task (asyncio, simulated time), its drivers and the readout list."""

import asyncio
import socket
import unittest

import storekeys
from clock import ManualClock
from drivers.sim.optical_tcp import TcpOptical, even_parity_bit
from drivers.stm32_optical_uart import Stm32OpticalUart
from optical import readout
from optical.port import OpticalPort, char_us
from optical_harness import READOUT, Harness, answer, frame


class LineSerial:
    """interfaces.Serial that models a UART line: write() takes up to `room` characters, which
    leave at the character time; it logs what was on the line at which rate and when."""

    def __init__(self, clock, room=64):
        self.clock = clock
        self.room = room
        self.rx = bytearray()
        self.log = []  # (t_ms, baud, byte) per character handed over
        self.configs = []  # (t_ms, baud, line busy until)
        self.baud = None
        self.busy_until_us = 0

    def configure(self, baudrate, bits=8, parity=None, stop=1):
        assert (bits, parity, stop) == (7, 0, 1)
        self.configs.append((self.clock.now_ms(), baudrate, self.busy_until_us))
        self.baud = baudrate

    def readinto(self, buf):
        if not self.rx:
            return None
        n = min(len(buf), len(self.rx))
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n

    def read(self, n):
        raise AssertionError("the task uses readinto")

    def any(self):
        return len(self.rx)

    def write(self, buf):
        now_us = self.clock.now_ms() * 1000
        queued = max(0, self.busy_until_us - now_us) // char_us(self.baud)
        k = min(len(buf), self.room - queued)
        if k <= 0:
            return 0
        for i in range(k):
            self.log.append((self.clock.now_ms(), self.baud, buf[i]))
        self.busy_until_us = max(self.busy_until_us, now_us) + k * char_us(self.baud)
        return k


async def _drive(clock, task_fn, until_ms, feed=()):
    """Run the port task in simulated time; feed = [(t_ms, bytes, line)]: bytes arriving."""
    t = asyncio.create_task(task_fn())
    feed = list(feed)
    while clock.now_ms() < until_ms:
        await asyncio.sleep_ms(0)
        await asyncio.sleep_ms(0)
        while feed and feed[0][0] <= clock.now_ms():
            _, data, line = feed.pop(0)
            line.rx.extend(data)
        nxt = clock.next_wakeup()
        if nxt is None:
            nxt = clock.now_ms() + 1
        if feed:
            nxt = min(nxt, feed[0][0])
        clock.set(max(nxt, clock.now_ms() + 1))
    t.cancel()
    await asyncio.sleep_ms(0)


class TestPortTask(unittest.TestCase):
    def test_readout_timing_and_turnaround(self):
        clock = ManualClock(0)
        line = LineSerial(clock, room=16)
        h = Harness(reaction_ms=1000)
        port = OpticalPort(h.eng, line, clock)
        feed = [(100, b"/?!\r\n", line), (1000, b"\x06050\r\n", line)]
        asyncio.run(_drive(clock, port.run, 5000, feed))
        # identification at 300 Bd, >= 200 ms after the request
        ident = [e for e in line.log if e[1] == 300]
        self.assertEqual(bytes(e[2] for e in ident), b"/OMM5MMPY0001\r\n")
        self.assertGreaterEqual(ident[0][0], 300)
        # readout at 9600 Bd, >= the reaction time after the option select
        body = [e for e in line.log if e[1] == 9600]
        self.assertEqual(body[0][2], 2)
        self.assertEqual(body[-2][2], 3)
        self.assertGreaterEqual(body[0][0], 2000)
        # rate changes: 300 at start, 9600 after the option select, 300 after the readout;
        # each only once the line had sent everything (busy_until <= now)
        self.assertEqual([c[1] for c in line.configs], [300, 9600, 300])
        for t, _, busy_us in line.configs:
            self.assertLessEqual(busy_us, t * 1000)
        # nothing lost or repeated although the driver took at most 16 characters at a time
        self.assertEqual(bytes(e[2] for e in body), answer(READOUT))

    def test_fault_in_a_value_source_is_recorded_and_port_goes_idle(self):
        clock = ManualClock(0)
        line = LineSerial(clock)
        h = Harness()

        def broken():
            raise OSError(5)

        h.eng._readout = readout.Readout([(b"1.8.0", broken)])
        recorded = []

        class Faults:
            def record(self, exc, place):
                recorded.append((type(exc).__name__, place))

        port = OpticalPort(h.eng, line, clock, Faults())
        feed = [(0, b"/?!\r\n", line), (600, b"\x06050\r\n", line), (3000, b"/?!\r\n", line)]
        asyncio.run(_drive(clock, port.run, 4000, feed))
        self.assertEqual(recorded, [("OSError", "optical")])
        self.assertEqual(port.last_fault[:2], ("OSError", "optical"))
        idents = bytes(e[2] for e in line.log)
        self.assertEqual(idents, b"/OMM5MMPY0001\r\n" * 2)  # and it answers the next sign-on

    def test_driver_error_is_recorded_and_the_port_carries_on(self):
        clock = ManualClock(0)

        class Flaky(LineSerial):
            fails = 1

            def write(self, buf):
                if self.fails:
                    self.fails -= 1
                    raise OSError(5)
                return LineSerial.write(self, buf)

        line = Flaky(clock)
        h = Harness()
        port = OpticalPort(h.eng, line, clock)
        feed = [(0, b"/?!\r\n", line), (1000, b"/?!\r\n", line)]
        asyncio.run(_drive(clock, port.run, 2000, feed))
        self.assertEqual(port.last_fault[:2], ("OSError", "optical"))
        self.assertEqual(bytes(e[2] for e in line.log), b"/OMM5MMPY0001\r\n")


class FakeMem:
    def __init__(self):
        self.sr = 0
        self.dr = []

    def __getitem__(self, addr):
        assert addr == 0x1000
        return self.sr

    def __setitem__(self, addr, v):
        assert addr == 0x1004
        self.dr.append(v)


class FakeUart:
    def __init__(self):
        self.inits = []
        self.rx = bytearray()
        self.tx = bytearray()
        self.done = True

    def init(self, baudrate, **kw):
        self.inits.append((baudrate, kw))

    def any(self):
        return len(self.rx)

    def read(self, n):
        d = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return d

    def readinto(self, buf, n=None):
        n = len(buf) if n is None else n
        k = min(n, len(self.rx))
        buf[:k] = self.rx[:k]
        self.rx = self.rx[k:]
        return k

    def write(self, buf):
        self.tx.extend(buf)
        return len(buf)

    def txdone(self):
        return self.done


class TestDrivers(unittest.TestCase):
    def test_stm32_writes_only_when_the_data_register_is_empty(self):
        mem, uart = FakeMem(), FakeUart()
        d = Stm32OpticalUart(6, uart=uart, mem32=mem, base=0x1000, sr=0, dr=4)
        baud, kw = uart.inits[0]
        self.assertEqual((baud, kw["bits"], kw["parity"], kw["stop"]), (300, 7, 0, 1))
        self.assertEqual((kw["timeout"], kw["timeout_char"]), (0, 0))
        self.assertEqual(d.write(b"AB"), 0)  # TXE clear: nothing taken, nothing waited for
        mem.sr = 0x80
        self.assertEqual(d.write(b"AB"), 1)
        self.assertEqual(mem.dr, [0x41])
        self.assertFalse(d.tx_idle())
        mem.sr = 0xC0
        self.assertTrue(d.tx_idle())
        self.assertIsNone(d.readinto(bytearray(8)))
        uart.rx.extend(b"xyz")
        buf = bytearray(2)
        self.assertEqual(d.readinto(buf), 2)  # never more than any(): no timeout_char wait
        self.assertEqual(d.read(5), b"z")
        d.configure(9600, 7, 0, 1)
        self.assertEqual(uart.inits[-1][0], 9600)

    def test_tcp_optical_7e1_emulation(self):
        import os

        port = 20000 + int.from_bytes(os.urandom(2), "big") % 20000
        d = TcpOptical(port)
        d.configure(300, 7, 0, 1)
        c = socket.socket()
        c.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        buf = bytearray(16)
        n = None
        for _ in range(100):
            n = d.readinto(buf)  # accepts the head
            if d._conn is not None:
                break
        self.assertIsNone(n)
        self.assertEqual(d.write(b"/A\r"), 3)
        got = c.recv(3)
        # '/' 0x2F has 5 ones -> parity bit set; 'A' 0x41 two -> clear; CR 0x0D three -> set
        self.assertEqual(got, b"\xaf\x41\x8d")
        c.send(b"\xaf\xc1")  # '/' right, 'A' with a wrong parity bit
        n = None
        for _ in range(1000):
            n = d.readinto(buf)
            if n:
                break
        self.assertEqual(bytes(buf[:n]), b"\x2f\xc1")
        self.assertEqual(d.parity_errors, 1)
        for c7 in range(128):
            self.assertEqual(even_parity_bit(c7) >> 7, bin(c7).count("1") & 1)
        c.close()
        d.close()


class TestReadoutList(unittest.TestCase):
    def test_time_and_date_lines_from_the_meters_clock(self):
        class WallClock:
            def now(self):
                return 790_000_000  # 2025-01-12 12:26:40 UTC (CPython datetime)

        class M:
            wallclock = WallClock()

        r = readout.make(["0.9.1:time", "0.9.2:date"], M(), None)
        buf = bytearray(64)
        n = r.build(buf)
        self.assertEqual(bytes(buf[:n]), b"0.9.1(122640)\r\n0.9.2(250112)\r\n")

    def test_values_are_sanitised_and_bounded(self):
        r = readout.Readout([(b"C.1.0", lambda: b"a(b)c/d!e\x01" + b"x" * 80)])
        buf = bytearray(200)
        n = r.build(buf)
        self.assertEqual(bytes(buf[:n]), b"C.1.0(a?b?c?d?e?" + b"x" * 39 + b")\r\n")
        small = bytearray(10)
        self.assertEqual(r.build(small), 0)  # a line that does not fit is left out

    def test_make_refuses_unknown_sources(self):
        with self.assertRaises(ValueError):
            readout.make(["1.8.0:nonsense"], None, None)
        with self.assertRaises(ValueError):
            readout.make(["1.8.0"], None, None)


def _par(data):
    return bytes(c | even_parity_bit(c) for c in data)


class TestMeterWiring(unittest.TestCase):
    def test_unix_sim_meter_answers_on_its_optical_port(self):
        import os

        import config
        from app import Meter
        from optical.build import optical_port

        import boards.unix_sim as board

        port = 20000 + int.from_bytes(os.urandom(2), "big") % 20000
        cfg = config.load(
            None,
            {
                "state_dir": "build/test_optical_wiring",
                "optical_port": port,
                "optical_password": "1234",
                "optical_readout": ["C.1.0:serial", "C.51.0:reg:0004"],
                "optical_reaction_ms": 50,
            },
        )
        meter = Meter(board.build(cfg), cfg)
        optical = optical_port(meter)
        body = b"C.1.0(MM0000000001)\r\nC.51.0(%08X)\r\n!\r\n" % meter.boots
        got = []

        async def main():
            task = asyncio.create_task(optical.run())  # Meter.start() runs it the same way
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(_par(b"/?!\r\n"))
            await w.drain()
            got.append(await r.readexactly(15))
            w.write(_par(b"\x06050\r\n"))
            await w.drain()
            got.append(await r.readexactly(len(body) + 3))
            w.close()
            task.cancel()

        asyncio.run(main())
        meter.hw.optical.close()
        from datamodel import registers as dm

        fw = bytes(meter.model.read(dm.find(dm.FIRMWARE_VERSION))).strip()
        self.assertEqual(got[0], _par(b"/OMM5" + fw + b"\r\n"))
        self.assertEqual(got[1], _par(answer(body)))
        self.assertEqual(optical.engine._password, b"1234")

    def test_wrong_password_count_kept_in_the_store_across_a_restart(self):
        import os

        import config
        from app import Meter
        from optical.build import optical_port

        import boards.unix_sim as board

        state = "build/test_optical_restart"
        try:
            os.remove(state + "/flash.bin")  # a fresh store
        except OSError:
            pass
        cfg = config.load(None, {"state_dir": state, "optical_password": "S3cret01"})

        meter = Meter(board.build(cfg), cfg)
        eng = optical_port(meter).engine
        eng.on_rx(b"/?!\r\n", 0)
        eng.poll(1000)
        eng.on_rx(b"\x06051\r\n", 1000)
        eng.poll(3000)
        for i in range(eng.max_tries):
            eng.on_rx(frame(b"P1", b"(nope%d)" % i), 3000 + 1000 * i)
            eng.poll(3500 + 1000 * i)
        self.assertTrue(eng.locked(10_000))

        again = Meter(board.build(cfg), cfg)  # the same store: a power cycle
        eng2 = optical_port(again).engine
        now = again.clock.now_ms()
        self.assertTrue(eng2.locked(now))
        self.assertFalse(eng2.locked(now + eng2.lockout_ms))
        # the expiry wrote the count back to 0
        third = Meter(board.build(cfg), cfg)
        self.assertEqual(third.store.get(storekeys.OPTICAL_TRIES), b"\x00")


class TestSources(unittest.TestCase):
    def test_kwh_and_boots_from_registers(self):
        class Regs:
            def read(self, obj):
                return {0x0400: b"\x00\x01\xe2\x40", 0x0004: b"\x00\x00\x00\x07"}.get(obj, 3)

        r = readout.make(["1.8.0:kwh:0400", "2.8.0:kwh:0401", "C.50.0:boots"], None, Regs())
        buf = bytearray(100)
        n = r.build(buf)
        # 0x0001E240 = 123456 Wh; 0x0401 is not in this data model: 0
        want = b"1.8.0(000123.456*kWh)\r\n2.8.0(000000.000*kWh)\r\nC.50.0(00000007)\r\n"
        self.assertEqual(bytes(buf[:n]), want)


class TestOpticalConfig(unittest.TestCase):
    def _error(self, **over):
        import config

        try:
            config.load(overrides=over)
        except config.ConfigError as e:
            return str(e)
        return None

    def test_optical_keys_are_checked(self):
        cases = (
            ({"optical_reaction_ms": 5}, "optical_reaction_ms must be 20..1500 (got 5)"),
            ({"optical_reaction_ms": 2000}, "optical_reaction_ms must be 20..1500 (got 2000)"),
            ({"optical_block": -1}, "optical_block must be 0..1024 (got -1)"),
            ({"optical_password": ""}, "optical_password must be 1..32 characters (got '')"),
            ({"optical_password": "a b"}, "optical_password: printable ASCII without spaces only"),
            ({"optical_password": 1.5}, "optical_password must be 1..32 characters (got 1.5)"),
            ({"optical_readout": "C.1.0:serial"}, None),
            ({"optical_readout": ["C.1.0"]}, None),
        )
        for over, msg in cases:
            got = self._error(**over)
            if msg is None:
                self.assertTrue(got.startswith("optical_readout must be a list"), got)
            else:
                self.assertEqual(got, msg)
        for over in (
            {"optical_password": 1234},  # digits from --set
            {"optical_password": "S3cret01", "optical_readout": ["C.1.0:serial"]},
            {"optical_reaction_ms": 200, "optical_block": 64},
        ):
            self.assertIsNone(self._error(**over), over)


class TestTableAccess(unittest.TestCase):
    def test_rights_on_the_data_model(self):
        import config
        from app import Meter
        from datamodel import registers as dm
        from optical.iec21 import ERR_ACCESS, ERR_ADDRESS, ERR_VALUE
        from optical.regaccess import TableAccess

        import boards.unix_sim as board

        cfg = config.load(None, {"state_dir": "build/test_optical_regs"})
        meter = Meter(board.build(cfg), cfg)
        regs = TableAccess(meter)
        self.assertEqual(bytes(regs.read(dm.SERIAL_NUMBER)).strip(), b"MM0000000001")
        self.assertEqual(regs.read(0xFFFF), ERR_ADDRESS)
        self.assertEqual(regs.read(dm.KEY_WRITE), ERR_ACCESS)  # keys: never over optical
        self.assertEqual(regs.write(dm.KEY_WRITE, bytes(16)), ERR_ACCESS)
        self.assertEqual(regs.write(dm.SERIAL_NUMBER, b"X" * 16), ERR_ACCESS)  # read-only
        mode = dm.find(0x1800)  # reading_mode: u8, 0 or 1, written with the write key
        self.assertEqual(regs.write(0x1800, b"\x05"), ERR_VALUE)  # the table's rule refuses
        self.assertEqual(regs.write(0x1800, b"\x01\x00"), ERR_VALUE)  # wrong length
        self.assertEqual(regs.write(0x1800, b"\x01"), 0)
        self.assertEqual(bytes(meter.model.read(mode)), b"\x01")  # through the model
        self.assertEqual(regs.write(0x1800, b"\x00"), 0)
