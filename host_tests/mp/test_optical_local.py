"""Original-SMITP local profile ("mode F", docs/optical.md) on the optical engine, answered by a
real meter's application and security layers (alfix.Bench): sign-on and option select, frames
in both directions, authenticated READ/WRITE/COMMAND with the meter's keys and LMON, and bad
input (garbage, bad CRC, bad TMAC, replays, stalls) that changes nothing and ends at idle.
The independent check of the same flow is host_tests/py/test_optical_local_system.py
(tools/handheld.py on CPython)."""

import random
import unittest

import alfix
import micropython
import sec_fixture
from crc import crc16_ccitt
from optical import iec21, local
from optical.port import OpticalPort
from optical_harness import Harness
from smitp import crypto, tmac
from test_optical_port import LineSerial, _drive

SIGN_ON = b"/?!\r\n"
MODE_F = b"\x06\x305F\r\n"  # ACK 0 5 F: 9600 Bd, local profile


def frame(ecc, lsdu):
    body = bytes((len(lsdu), ecc)) + bytes(lsdu)
    c = crc16_ccitt(body, len(body))
    return b"\x68" + body + bytes((c >> 8, c & 0xFF))


def unframe(f):
    assert f[0] == 0x68 and len(f) == f[1] + 5, f
    c = crc16_ccitt(f[1:-2], len(f) - 3)
    assert c == (f[-2] << 8 | f[-1]), "answer CRC"
    return f[2], bytes(f[3:-2])


class Case(unittest.TestCase):
    def setUp(self):
        self.b = alfix.Bench("optlocal")
        self.m = self.b.meter
        self.link = local.LocalLink(self.m.al.handle)
        self.h = Harness(local=self.link)
        self.eng = self.h.eng

    def tearDown(self):
        self.b.close()

    def sign_on(self):
        self.h.feed(SIGN_ON)
        self.h.run(300)
        self.assertTrue(self.h.take().startswith(b"/OMM5"))
        self.h.feed(MODE_F, 100)
        self.assertEqual(
            (self.eng.state, self.eng.baud, self.eng.binary), (iec21.LOCAL, 9600, True)
        )
        self.assertEqual(self.h.take(), b"")  # no answer to the option select

    def ask(self, ecc, lsdu):
        self.h.feed(frame(ecc, lsdu), 50)
        self.h.run(250)
        out = self.h.take()
        return unframe(out) if out else None

    def auth(self, attr, data, ecc=5):
        mon = self.m.sec.lmon + 1
        key = sec_fixture.K_WRITE if ecc & 4 else sec_fixture.K_READ
        got = self.ask(ecc, sec_fixture.request(attr, bytes(data), mon, ecc))
        ecc_out, out = got
        if out[0] == 245 and ecc_out == 2 and len(out) == 18:
            return 245, out[1:2]  # NACK-auth (security layer)
        self.assertEqual(ecc_out, ecc)
        plain = crypto.ctr(key, tmac.ctr_iv(sec_fixture.ACA, mon, True), out[1:])
        t = tmac.tmac(key, out[0], sec_fixture.ACA, mon, tmac.crc32(sec_fixture.ACA + plain[:-8]))
        self.assertEqual(plain[-8:], t)
        return out[0], plain[:-16]

    def assert_idle(self):
        self.assertTrue(self.eng.idle, (self.eng.state, self.eng._tx_at, self.h.t))
        self.assertEqual((self.eng.baud, self.eng.binary), (300, False))


class TestSession(Case):
    def test_read_in_clear_then_authenticated_write_and_read(self):
        self.sign_on()
        self.assertEqual(self.ask(0, b"\x02\x00\x03"), (0, b"\x03" + sec_fixture.ACA))
        self.assertEqual(self.auth(104, b"\x0e\x02\x00\x1e"), (243, b""))  # WRITE 0E02 = 30
        self.assertEqual(self.m.model.get_int(0x0E02), 30)
        self.assertEqual(self.auth(102, b"\x0e\x02", ecc=1), (103, b"\x00\x1e"))
        self.h.feed(b"\x01B0\x03q", 50)  # break
        self.assert_idle()
        self.assertEqual(self.link.stats["breaks"], 1)

    def test_relay_command_over_the_optical_port(self):
        self.sign_on()
        self.assertEqual(self.auth(118, b"\x04"), (243, b""))
        self.assertEqual(self.m.cutoff.state(), "open_remote")

    def test_lmon_is_shared_with_the_powerline(self):
        self.sign_on()
        lmon = self.m.sec.lmon
        self.assertEqual(self.auth(102, b"\x00\x3f", ecc=1)[0], 103)
        self.assertEqual(self.m.sec.lmon, lmon + 1)
        self.assertEqual(self.auth(102, b"\x00\x04", ecc=1)[0], 103)
        old = sec_fixture.request(102, b"\x00\x3f", lmon + 1, 1)
        _, out = self.ask(1, old)  # replayed over the optical port: refused
        self.assertEqual(out[:2], b"\xf5\x0a")

    def test_inactivity_ends_the_session(self):
        self.sign_on()
        self.h.run(self.eng.prog_timeout_ms + 10)
        self.assert_idle()
        self.h.feed(SIGN_ON)  # and a new sign-on works
        self.h.run(300)
        self.assertTrue(self.h.take().startswith(b"/OMM5"))

    def test_mode_f_refused_without_the_profile(self):
        h = Harness()
        h.feed(SIGN_ON)
        h.run(300)
        h.take()
        h.feed(MODE_F, 100)
        self.assertTrue(h.eng.idle)
        self.assertEqual(h.eng.baud, 300)


class TestBadInput(Case):
    def snap(self):
        return self.b.snapshot()[:3]

    def test_bad_frames_dropped_without_answer(self):
        self.sign_on()
        s = self.snap()
        f = bytearray(frame(0, b"\x02\x00\x03"))
        f[-1] ^= 1  # CRC
        self.h.feed(bytes(f), 50)
        f = bytearray(frame(0, b"\x02\x00\x03"))
        f[2] = 3  # ECC 3 is no ECC
        f[-2:] = bytes(2)
        c = crc16_ccitt(f[1:-2], len(f) - 3)
        f[-2], f[-1] = c >> 8, c & 0xFF
        self.h.feed(bytes(f), 50)
        self.h.feed(b"\x68\x00", 50)  # length 0
        self.h.feed(b"\x68\x81", 50)  # length 129
        self.h.run(500)
        self.assertEqual(self.h.take(), b"")
        self.assertEqual(self.link.stats["bad"], 4)
        self.assertEqual(self.ask(0, b"\x02\x00\x03")[1][0], 3)  # the link still works
        self.assertEqual(self.snap(), s)

    def test_bad_tmac_plain_write_and_read_key_change_nothing(self):
        self.sign_on()
        s = self.snap()
        mon = self.m.sec.lmon + 1
        bad = bytearray(sec_fixture.request(104, b"\x0e\x02\x00\x1e", mon, 5))
        bad[-1] ^= 0x40
        self.assertEqual(self.ask(5, bytes(bad))[1][:2], b"\xf5\x0a")
        self.assertEqual(self.ask(0, b"\x04\x0e\x02\x00\x1e"), (0, b"\xff\x02"))
        self.assertEqual(self.auth(104, b"\x0e\x02\x00\x1e", ecc=1), (245, b"\x02"))
        self.assertEqual(self.ask(0, b"\x12\x04"), (0, b"\xff\x02"))  # relay cmd in clear
        self.assertEqual(self.snap(), s)
        self.assertEqual(self.m.cutoff.state(), "closed")

    def test_stalled_frame_is_forgotten(self):
        self.sign_on()
        f = frame(0, b"\x02\x00\x03")
        self.h.feed(f[:4], 50)
        self.h.run(iec21.TA_MS + 10)  # the rest never comes
        self.assertFalse(self.link.partial())
        self.assertEqual(self.eng.state, iec21.LOCAL)
        self.h.feed(f[4:], 10)  # the tail alone is noise
        self.h.run(300)
        self.assertEqual(self.h.take(), b"")
        self.assertEqual(self.ask(0, b"\x02\x00\x03")[1][0], 3)

    def test_garbage_sessions_end_idle_and_change_nothing(self):
        random.seed(1212)
        rnd = random
        s = self.snap()
        lmon = self.m.sec.lmon
        for i in range(300):
            self.sign_on()
            kind = i % 3
            for _ in range(rnd.randint(1, 6)):
                if kind == 0:  # random bytes (frame starts and breaks included by chance)
                    g = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 60)))
                elif kind == 1:  # well framed, random LSDU: the AL answers or NACKs
                    g = frame(rnd.choice((0, 1, 2, 5, 6)), bytes((0x80 | rnd.getrandbits(7),)))
                else:  # authenticated attempts with a wrong key
                    g = frame(
                        5, sec_fixture.request(104, b"\x0e\x02\x00\x01", lmon + 1, 5, kw=bytes(16))
                    )
                self.h.feed(g, rnd.randint(0, 300))
                self.h.run(rnd.randint(0, 300))
            if rnd.getrandbits(1):
                self.h.feed(b"\x01B0\x03q", 10)
            self.h.run(self.eng.prog_timeout_ms + 1000)  # an answer may still go out first
            self.h.take()
            self.assert_idle()
        self.assertEqual(self.snap(), s)
        self.assertEqual(self.m.sec.lmon, lmon)

    def test_collecting_garbage_does_not_allocate(self):
        random.seed(5)
        junk = bytes(random.getrandbits(8) for _ in range(2000))
        junk = junk.replace(b"\x68", b"\x00") + b"\x68\x05" + bytes(4)  # partial, unchecked
        micropython.heap_lock()
        try:
            for b in junk:
                self.link.byte(b)
        finally:
            micropython.heap_unlock()
        self.assertTrue(self.link.partial())


class FormatSerial(LineSerial):
    """The modelled UART line, recording the character format of every configure()."""

    def configure(self, baudrate, bits=8, parity=None, stop=1):
        self.configs.append((self.clock.now_ms(), baudrate, bits, parity, self.busy_until_us))
        self.baud = baudrate


class TestPort(Case):
    def test_port_runs_8n1_for_mode_f_and_7e1_again_after_the_break(self):
        import asyncio

        from clock import ManualClock

        clock = ManualClock(0)
        line = FormatSerial(clock, room=16)
        port = OpticalPort(self.eng, line, clock)
        req = frame(0, b"\x02\x00\x03")
        feed = [(100, SIGN_ON, line), (1000, MODE_F, line), (1500, req, line)]
        feed.append((3000, b"\x01B0\x03q", line))
        asyncio.run(_drive(clock, port.run, 4000, feed))
        self.assertEqual(
            [c[1:4] for c in line.configs], [(300, 7, 0), (9600, 8, None), (300, 7, 0)]
        )
        for c in line.configs:
            self.assertLessEqual(c[4], c[0] * 1000)  # only on an empty line
        out = bytes(e[2] for e in line.log if e[1] == 9600)
        self.assertEqual(unframe(out), (0, b"\x03" + sec_fixture.ACA))
        self.assertTrue(self.eng.idle)


if __name__ == "__main__":
    unittest.main()
