"""SMITP application layer dispatch and the data-model register table."""

import struct
import unittest

from datamodel import registers
from smitp import al


class _Relay:
    def __init__(self, closed=True, fault=False):
        self.closed = closed
        self._fault = fault

    def state(self):
        return self.closed

    def fault(self):
        return self._fault


class _Rtc:
    def __init__(self, now):
        self._now = now

    def seconds(self):
        return self._now


class _Hw:
    def __init__(self, relay, rtc):
        self.relay = relay
        self.rtc = rtc


class _Meter:
    def __init__(self, relay=None, rtc=None, boots=3, discarded=0):
        self.hw = _Hw(relay or _Relay(), rtc or _Rtc(800_000_000))
        self.cfg = {"serial": "MM42"}
        self.aca = b"\x01\x02\x03\x04\x05\x06"
        self.boots = boots
        self.store_recovered = bool(discarded)


class _Ctx:
    ecc = 0


def _read(app, obj):
    return app.handle(bytes((al.READ_REQ, obj >> 8, obj & 0xFF)), _Ctx())


class TestRead(unittest.TestCase):
    def test_status_word_reflects_live_state(self):
        m = _Meter()
        app = al.Application(m)
        self.assertEqual(_read(app, 0x003F), b"\x03" + bytes(8))
        m.hw.relay.closed = False
        m.hw.relay._fault = True
        m.hw.rtc._now = 5  # clock never set
        m.boots = 1
        m.store_recovered = True
        flags = struct.unpack(">Q", _read(app, 0x003F)[1:])[0]
        want = (
            registers.SW_RELAY_OPEN
            | registers.SW_RELAY_FAULT
            | registers.SW_CLOCK_NOT_SET
            | registers.SW_STORE_RECOVERED
            | registers.SW_FIRST_BOOT
        )
        self.assertEqual(flags, want)

    def test_other_registers(self):
        app = al.Application(_Meter(boots=7))
        self.assertEqual(_read(app, registers.ACA), b"\x03\x01\x02\x03\x04\x05\x06")
        self.assertEqual(_read(app, registers.BOOT_COUNT), b"\x03\x00\x00\x00\x07")
        self.assertEqual(_read(app, registers.SERIAL_NUMBER)[1:5], b"MM42")
        self.assertEqual(app.stats["read"], 3)

    def test_every_row_has_its_declared_size(self):
        m = _Meter()
        for row in registers.TABLE:
            self.assertEqual(len(row[4](m)), row[2], row[1])


class TestRefusals(unittest.TestCase):
    def test_unknown_object(self):
        app = al.Application(_Meter())
        self.assertEqual(_read(app, 0x7777), bytes((al.NACK_A, al.NACK_UNKNOWN_OBJECT)))

    def test_malformed_and_unsupported(self):
        app = al.Application(_Meter())
        self.assertEqual(app.handle(b"\x02\x00", _Ctx()), bytes((255, al.NACK_MALFORMED)))
        self.assertEqual(app.handle(b"\x04\x00\x3f\x00", _Ctx()), bytes((255, 4)))
        self.assertIsNone(app.handle(b"", _Ctx()))

        class Enc:
            ecc = 1

        self.assertEqual(app.handle(b"\x66\x00\x3f", Enc()), bytes((255, 4)))
        self.assertEqual(app.stats["nack"], 3)

    def test_random_lsdus_never_raise(self):
        import random

        random.seed(8)
        app = al.Application(_Meter())
        for _ in range(2000):
            n = random.getrandbits(8) % 6
            out = app.handle(bytes(random.getrandbits(8) for _ in range(n)), _Ctx())
            self.assertTrue(out is None or out[0] in (al.READ_RESP, al.NACK_A))
