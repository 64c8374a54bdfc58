"""IEC 62056-21 meter-side engine: sign-on, readout, programming, partial blocks, bad input."""

import unittest

import micropython
from optical import iec21
from optical_harness import PASSWORD, READOUT, Harness, answer, frame

IDENT = b"/OMM5MMPY0001\r\n"


def sign_on(h, addr=b""):
    h.feed(b"/?" + addr + b"!\r\n")
    h.run(200)
    return h.take()


def to_prog(h):
    assert sign_on(h) == IDENT
    h.feed(b"\x06051\r\n")
    h.run(1000)
    return h.take()


def login(h):
    to_prog(h)
    h.feed(frame(b"P1", b"(" + PASSWORD + b")"))
    h.run(200)
    assert h.take() == b"\x06"


class TestBcc(unittest.TestCase):
    # published vectors: pwitab/iec62056-21 tests/test_bcc.py and lvzon/dsmr-p1-parser
    # doc/IEC-62056-21-notes.md (break), quoted in shared/spec/iec62056-21-notes.md
    def test_published_vectors(self):
        m = b"\x01P0\x02(1234567)\x03"
        self.assertEqual(iec21.bcc(m, 1, len(m)), ord("P"))
        m = bytes.fromhex("015732024330303328393130333234303932323339290" + "3")
        self.assertEqual(iec21.bcc(m, 1, len(m)), 0x1B)
        m = b"\x01B0\x03"
        self.assertEqual(iec21.bcc(m, 1, len(m)), ord("q"))

    def test_harness_frames_carry_the_published_bcc(self):
        self.assertEqual(frame(b"B0"), b"\x01B0\x03q")
        self.assertEqual(frame(b"P0", b"(1234567)"), b"\x01P0\x02(1234567)\x03P")


class TestReadout(unittest.TestCase):
    def test_mode_c_readout(self):
        h = Harness()
        h.feed(b"\x00" * 40 + b"junk\r\n/?!\r\n")  # wake-up NULs and noise before '/'
        h.run(199)
        self.assertEqual(h.take(), b"")  # not before the 200 ms minimum reaction time
        h.run(1)
        self.assertEqual(h.take(), IDENT)
        h.feed(b"\x06050\r\n", gap_ms=300)
        self.assertEqual(h.eng.baud, 9600)  # switch as soon as the option select ended
        h.run(999)
        self.assertEqual(h.take(), b"")
        h.run(1)
        self.assertEqual(h.take(), answer(READOUT))
        self.assertEqual(h.eng.baud, 300)
        self.assertTrue(h.eng.idle)
        self.assertEqual([b for _, b in h.bauds], [300, 9600, 300])

    def test_lower_baud_chosen_by_the_hhu(self):
        h = Harness()
        sign_on(h)
        h.feed(b"\x06030\r\n")
        self.assertEqual(h.eng.baud, 2400)
        h.run(1000)
        self.assertEqual(h.take(), answer(READOUT))

    def test_higher_baud_than_offered_is_refused(self):
        h = Harness()
        sign_on(h)
        h.feed(b"\x06060\r\n")
        h.run(5000)
        self.assertEqual(h.take(), b"")
        self.assertTrue(h.eng.idle)
        self.assertEqual(h.eng.baud, 300)

    def test_reaction_time_is_configurable(self):
        h = Harness(reaction_ms=300)
        sign_on(h)
        h.feed(b"\x06050\r\n")
        h.run(300)
        self.assertEqual(h.take(), answer(READOUT))

    def test_lowercase_manufacturer_declares_20ms(self):
        h = Harness()
        h.eng = iec21.Iec21(b"OMm", b"X", h.eng._readout)
        h.feed(b"/?!\r\n")
        h.run(20)
        self.assertEqual(h.take(), b"/OMm5X\r\n")

    def test_address(self):
        h = Harness(address=b"00042")
        self.assertEqual(sign_on(h, b"42"), IDENT)
        h.run(5000)
        self.assertEqual(sign_on(h, b"00042"), IDENT)
        h.run(5000)
        self.assertEqual(sign_on(h, b"43"), b"")  # another meter's: silence
        self.assertTrue(h.eng.idle)
        self.assertEqual(sign_on(h, b""), IDENT)  # no address: every meter answers

    def test_no_option_select_returns_to_idle(self):
        h = Harness()
        sign_on(h)
        h.run(iec21.OPTION_WAIT_MS + 1)
        self.assertTrue(h.eng.idle)

    def _first_block(self):
        h = Harness(block=20)
        sign_on(h)
        h.feed(b"\x06050\r\n")
        h.run(1000)
        return h

    def test_partial_blocks(self):
        h = self._first_block()
        got = h.take()
        self.assertEqual(got[0], 2)
        self.assertEqual(got[-2], 4)  # EOT: more follows
        x = 0
        for c in got[1:-1]:
            x ^= c
        self.assertEqual(got[-1], x)
        self.assertEqual(len(got), 23)
        blocks = [got[1:-2]]
        h.feed(b"\x15")  # NAK: the same block again
        h.run(200)
        self.assertEqual(h.take(), got)
        for _ in range(10):
            h.feed(b"\x06")
            h.run(200)
            b = h.take()
            blocks.append(b[1:-2])
            if b[-2] == 3:
                break
        self.assertEqual(b"".join(blocks), READOUT)
        self.assertTrue(h.eng.idle)

    def test_partial_block_nak_limit(self):
        h = self._first_block()
        for _ in range(4):
            h.take()
            h.feed(b"\x15")
            h.run(200)
        self.assertTrue(h.eng.idle)


class TestProgramming(unittest.TestCase):
    def test_p0_seed(self):
        h = Harness()
        self.assertEqual(to_prog(h), frame(b"P0", b"(1234ABCD)"))
        self.assertEqual(h.eng.state, iec21.PROG)

    def test_programming_disabled_without_password(self):
        h = Harness(password=None)
        sign_on(h)
        h.feed(b"\x06051\r\n")
        h.run(2000)
        self.assertEqual(h.take(), b"")
        self.assertTrue(h.eng.idle)

    def test_read_write_break(self):
        h = Harness()
        to_prog(h)
        h.feed(frame(b"R1", b"0010()"))
        h.run(200)
        self.assertEqual(h.take(), answer(b"(ERR02)"))  # password first
        h.feed(frame(b"P1", b"(" + PASSWORD + b")"))
        h.run(200)
        self.assertEqual(h.take(), b"\x06")
        h.feed(frame(b"W1", b"0010(DEADbeef)"))
        h.run(200)
        self.assertEqual(h.take(), b"\x06")
        self.assertEqual(h.regs.values[0x10], b"\xde\xad\xbe\xef")
        h.feed(frame(b"R1", b"10(1)"))
        h.run(200)
        self.assertEqual(h.take(), answer(b"10(DEADBEEF)"))
        for body, err in (
            (b"0001(00)", b"(ERR04)"),  # read-only
            (b"0010(0102)", b"(ERR05)"),  # wrong length
            (b"0010(XY010203)", b"(ERR05)"),  # not hex
            (b"0099(00)", b"(ERR03)"),  # no such register
            (b"C.1.0(00)", b"(ERR03)"),  # not a register address
        ):
            h.feed(frame(b"W1", body))
            h.run(200)
            self.assertEqual(h.take(), answer(err), body)
        h.feed(frame(b"R1", b"1.8.0()"))  # a readout entry by its OBIS code
        h.run(200)
        self.assertEqual(h.take(), answer(b"1.8.0(000123.456*kWh)"))
        h.feed(frame(b"R1", b"9.9.9()"))
        h.run(200)
        self.assertEqual(h.take(), answer(b"(ERR03)"))
        h.feed(frame(b"E2", b"0010()"))
        h.run(200)
        self.assertEqual(h.take(), answer(b"(ERR01)"))
        h.feed(frame(b"B0"))
        self.assertTrue(h.eng.idle)
        self.assertEqual(h.eng.baud, 300)
        self.assertEqual(h.regs.values[0x10], b"\xde\xad\xbe\xef")

    def test_bad_bcc_is_nak_and_changes_nothing(self):
        h = Harness()
        login(h)
        f = bytearray(frame(b"W1", b"0010(01020304)"))
        f[-1] ^= 1
        h.feed(f)
        h.run(200)
        self.assertEqual(h.take(), b"\x15")
        f = bytearray(frame(b"W1", b"0010(01020304)"))
        f[6] |= 0x80  # parity error marked by the driver
        h.feed(f)
        h.run(200)
        self.assertEqual(h.take(), b"\x15")
        self.assertEqual(h.regs.writes, 0)

    def test_command_sent_before_the_previous_answer(self):
        h = Harness()
        to_prog(h)
        h.feed(frame(b"P1", b"(" + PASSWORD + b")") + frame(b"R1", b"0001(1)"))
        h.run(200)
        self.assertEqual(h.take(), b"\x06" + answer(b"0001(4D455445522D3031)"))

    def _locked_for_a_minute(self, h):
        """The right password is refused unchecked during the lockout, accepted after it."""
        to_prog(h)
        h.feed(frame(b"P1", b"(" + PASSWORD + b")"))
        h.run(200)
        self.assertEqual(h.take(), answer(b"(ERR06)"))
        h.feed(frame(b"B0"))
        h.run(60000)
        to_prog(h)
        h.feed(frame(b"P1", b"(" + PASSWORD + b")"))
        h.run(200)
        self.assertEqual(h.take(), b"\x06")

    def test_lockout(self):
        h = Harness(max_tries=3, lockout_ms=60000)
        to_prog(h)
        for i in range(2):
            h.feed(frame(b"P1", b"(wrong%d)" % i))
            h.run(200)
            self.assertEqual(h.take(), b"\x15")
        h.feed(frame(b"P1", b"(wrong)"))
        h.run(200)
        self.assertEqual(h.take(), frame(b"B0"))  # the meter breaks off
        self.assertTrue(h.eng.idle)
        self._locked_for_a_minute(h)

    def test_wrong_tries_survive_a_restart(self):
        saved = []
        h = Harness(lockout_ms=60000, on_tries=saved.append)
        to_prog(h)
        for i in range(3):
            h.feed(frame(b"P1", b"(nope%d)" % i))
            h.run(200)
        self.assertEqual(saved, [1, 2, 3])
        # a restart (power cycle) hands the count back: locked anew for the whole lockout
        h = Harness(lockout_ms=60000, tries=saved[-1], now=0, on_tries=saved.append)
        self._locked_for_a_minute(h)
        self.assertEqual(saved, [1, 2, 3, 0])
        # two wrong, restart, one more wrong: locked (the count is per meter, not per boot)
        h = Harness(lockout_ms=60000, tries=2, on_tries=saved.append)
        to_prog(h)
        h.feed(frame(b"P1", b"(nope)"))
        h.run(200)
        self.assertEqual(h.take(), frame(b"B0"))

    def test_inactivity_timeout(self):
        h = Harness(prog_timeout_ms=60000)
        login(h)
        h.run(59000)
        h.feed(frame(b"R1", b"0001()"))
        h.run(200)
        self.assertEqual(h.eng.state, iec21.PROG)
        h.run(60000)
        self.assertEqual(h.eng.state, iec21.PROG)
        h.run(1)  # inactive for longer than the timeout
        self.assertTrue(h.eng.idle)
        self.assertEqual(h.eng.baud, 300)

    def test_stall_mid_command_is_forgotten(self):
        h = Harness()
        login(h)
        f = frame(b"W1", b"0010(01020304)")
        h.feed(f[:8])
        h.run(iec21.TA_MS + 1)
        h.feed(f[8:])  # the tail alone is noise: no SOH
        h.run(200)
        self.assertEqual(h.take(), b"")
        self.assertEqual(h.regs.writes, 0)


class TestBadInput(unittest.TestCase):
    def test_overlong_sign_on(self):
        h = Harness()
        h.feed(b"/?" + b"1" * 33 + b"!\r\n")
        h.run(3000)
        self.assertEqual(h.take(), b"")
        self.assertTrue(h.eng.idle)

    def test_parity_error_in_sign_on(self):
        h = Harness()
        h.feed(b"/?\xa1\r\n")
        h.run(3000)
        self.assertEqual(h.take(), b"")
        self.assertTrue(h.eng.idle)

    def test_stall_in_sign_on(self):
        h = Harness()
        h.feed(b"/?")
        h.run(iec21.TA_MS + 1)
        self.assertTrue(h.eng.idle)

    def test_overlong_command_dropped(self):
        h = Harness()
        login(h)
        h.feed(b"\x01W1\x02" + b"0" * 300)
        h.run(200)
        self.assertEqual(h.take(), b"")
        h.feed(frame(b"R1", b"0001()"))  # the next command works
        h.run(200)
        self.assertEqual(h.take(), answer(b"0001(4D455445522D3031)"))

    def test_sign_on_and_garbage_do_not_allocate(self):
        h = Harness()
        eng = h.eng
        req = b"\x00\x00/?!\r\n"
        junk = b"/?" + b"x" * 40 + b"\xff\x00/!!\r\n"
        micropython.heap_lock()
        try:
            eng.on_rx(junk, 0)
            eng.poll(5)
            eng.on_rx(req, 10)
            quiet = eng.poll(100)
        finally:
            micropython.heap_unlock()
        self.assertIsNone(quiet)
        self.assertEqual(bytes(eng.poll(300)), IDENT)
