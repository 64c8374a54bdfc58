"""mac.frame / mac.address: hand-written vectors, round trips, rejection reasons, heap_lock."""

import unittest

import micropython
from crc import crc16_ccitt
from mac import address
from mac.frame import (
    MAX_FRAME,
    OK,
    R_CTL,
    R_DSAP,
    R_ECC,
    R_HOP,
    R_LSDU,
    R_LT,
    R_RSV,
    R_SHORT,
    REASONS,
    Frame,
    copy_with_hop,
    encode,
    encode_answer,
)
from mac_util import BCAST, aca, mk

A = bytes.fromhex("112233445566")
R1 = bytes.fromhex("a1a2a3a4a5a6")
R2 = bytes.fromhex("b1b2b3b4b5b6")
SCA = bytes.fromhex("563412070903")  # section 0x123456, subsection 7, node 9


class TestMacCodec(unittest.TestCase):
    def test_mac_parse_nor_vector(self):
        # READ.REQ status word to A, RA1, NOR, poll, clear text (typed by hand from the doc)
        v = bytes.fromhex("0d 112233445566 21 00 01 00 02003f".replace(" ", ""))
        f = Frame()
        self.assertEqual(f.parse(memoryview(v)), OK)
        self.assertEqual((f.n, f.nrp, f.esize, f.disc, f.up, f.hop, f.tag), (14, 0, 6, 2, 0, 0, 0))
        self.assertEqual((f.poll, f.dsap, f.ecc, f.attr, f.lsdu_len), (1, 0, 0, 2, 3))
        self.assertEqual(bytes(f.lsdu_mv()), b"\x02\x00\x3f")
        self.assertEqual(bytes(f.addr_mv()), A)

    def test_mac_parse_routed_vector(self):
        # two ACA repeaters, RA3, uplink hop 3, tag 5, DSAP 0, ECC 1
        v = bytes.fromhex(
            "19"
            + "112233445566"
            + "42"
            + "a1a2a3a4a5a6"
            + "b1b2b3b4b5b6"
            + "d3"
            + "00"
            + "01"
            + "67aabb"
        )
        f = Frame()
        self.assertEqual(f.parse(v), OK)
        self.assertEqual((f.nrp, f.esize, f.disc, f.up, f.tag, f.hop), (2, 6, 4, 1, 5, 3))
        self.assertEqual((f.poll, f.ecc, f.attr, f.lsdu_len), (0, 1, 0x67, 3))
        self.assertEqual(bytes(f.route_mv()), R1 + R2)
        self.assertEqual(f.entry_off(1), 14)

    def test_mac_parse_sca_route(self):
        v = mk(SCA, disc=3, route=(b"\x07\x01", b"\x07\x02", b"\x07\x05"), hop=1)
        f = Frame()
        self.assertEqual(f.parse(v), OK)
        self.assertEqual((f.nrp, f.esize, f.rsv), (3, 2, 14))
        self.assertEqual(f.ctl, 0x34)

    def test_mac_broadcast_route_uses_aca_entries(self):
        v = mk(BCAST, disc=0, route=(R1,), hop=0)
        f = Frame()
        self.assertEqual(f.parse(v), OK)
        self.assertEqual((f.nrp, f.esize), (1, 6))
        self.assertTrue(address.is_broadcast(v, 1))
        self.assertFalse(address.is_sca_mode(v, 1))
        self.assertTrue(address.is_sca_mode(SCA, 0))
        self.assertEqual(address.entry_size(SCA, 0), 2)
        self.assertEqual(address.entry_size(A, 0), 6)

    def test_mac_encode_matches_reference(self):
        out = bytearray(256)
        cases = [
            (A, 2, b"", 0, 0, 0, 1, 0, 0, b"\x02\x00\x3f"),
            (A, 4, R1 + R2, 1, 5, 3, 0, 0, 1, b"\x67\xaa\xbb"),
            (SCA, 15, b"\x07\x01\x07\x02", 0, 7, 2, 1, 2, 0, b"\x5a\x02\x55\x00\x00"),
            (BCAST, 0, R1, 0, 1, 1, 0, 2, 0, b"\x5c\x05"),
        ]
        for addr, disc, route, up, tag, hop, poll, dsap, ecc, lsdu in cases:
            esz = address.entry_size(addr, 0)
            entries = tuple(route[i : i + esz] for i in range(0, len(route), esz))
            ref = mk(addr, disc, entries, up, tag, hop, poll, dsap, ecc, lsdu)
            n = encode(out, addr, disc, route, up, tag, hop, poll, dsap, ecc, lsdu)
            self.assertEqual(bytes(out[:n]), ref)
            f = Frame()
            self.assertEqual(f.parse(ref), OK)
            self.assertEqual(
                (f.disc, f.up, f.tag, f.hop, f.poll, f.dsap, f.ecc),
                (disc, up, tag, hop, poll, dsap, ecc),
            )
            self.assertEqual(bytes(f.lsdu_mv()), lsdu)

    def test_mac_encode_limits(self):
        out = bytearray(256)
        n = encode(out, A, 2, R1 * 8, 0, 0, 0, 0, 0, 0, bytes(128))
        self.assertEqual(n, MAX_FRAME)
        f = Frame()
        self.assertEqual(f.parse(bytes(out[:n])), OK)
        self.assertEqual(f.nrp, 8)
        for bad in (
            lambda: encode(out, A, 2, b"", 0, 0, 0, 0, 0, 0, bytes(129)),
            lambda: encode(out, A, 2, b"", 0, 0, 0, 0, 0, 0, b""),
            lambda: encode(out, A, 2, R1 * 9, 0, 0, 0, 0, 0, 0, b"\x02"),
            lambda: encode(out, A, 2, b"\x01\x02\x03", 0, 0, 0, 0, 0, 0, b"\x02"),
            lambda: encode(out, A[:5], 2, b"", 0, 0, 0, 0, 0, 0, b"\x02"),
            lambda: encode(bytearray(10), A, 2, b"", 0, 0, 0, 0, 0, 0, b"\x02"),
        ):
            self.assertRaises(ValueError, bad)

    def test_mac_answer_and_forward(self):
        req = mk(A, disc=3, route=(R1, R2), tag=6, hop=2, ecc=5, lsdu=b"\x02\x00\x3f")
        f = Frame()
        self.assertEqual(f.parse(req), OK)
        out = bytearray(256)
        n = encode_answer(out, f, A, b"\x03\x00\x3f\x00", 4, 5)
        ref = mk(
            A, disc=3, route=(R1, R2), up=1, tag=6, hop=3, poll=0, ecc=5, lsdu=b"\x03\x00\x3f\x00"
        )
        self.assertEqual(bytes(out[:n]), ref)
        n = copy_with_hop(out, f, 0, 1)
        self.assertEqual(bytes(out[:n]), mk(A, disc=3, route=(R1, R2), tag=6, hop=1, ecc=5))

    def test_mac_reject_reasons(self):
        good = mk(A, route=(R1,), hop=1)
        cases = [
            (b"", R_SHORT),
            (good[:11], R_SHORT),
            (mk(A, lsdu=b"\x02")[:-1], R_SHORT),
            (good + b"\x00", R_LT),
            (good[:-1], R_LT),
            (mk(A, lt=5), R_LT),
            (mk(A, ctl=0x23), R_CTL),  # NOR with a route count
            (mk(A, route=(R1, R2), lsdu=b""), R_SHORT),  # no room for ATTR after the route
            (mk(A, lsdu=b""), R_SHORT),
            (mk(A, route=(R1,) * 8, lsdu=b"\x02" + bytes(127)), OK),
            (mk(A, lsdu=bytes(129)), R_LSDU),
            (mk(A, route=(R1,), hop=2), R_HOP),
            (mk(A, route=(R1,), up=1, hop=0), R_HOP),
            (mk(A, route=(R1,), up=1, hop=3), R_HOP),
            (mk(A, route=(R1,), up=1, hop=2), OK),
            (mk(A, hop=1), R_HOP),
            (mk(A, infctl=0x03), R_RSV),
            (mk(A, infctl=0x80), R_RSV),
            (mk(A, dsap=1), R_DSAP),
            (mk(A, dsap=3), R_DSAP),
            (mk(A, dsap=15), R_DSAP),
            (mk(A, ecc=3), R_ECC),
            (mk(A, ecc=4), R_ECC),
            (mk(A, ecc=15), R_ECC),
            (mk(A, ecc=6), OK),
        ]
        f = Frame()
        for frame, want in cases:
            with self.subTest(frame=frame.hex(), want=REASONS[want]):
                self.assertEqual(f.parse(memoryview(frame)), want)

    def test_mac_ssca_route_without_room(self):
        # SCA mode: 8 entries of 2 bytes fit where 6-byte entries would not
        v = mk(SCA, route=(b"\x07\x01",) * 8)
        f = Frame()
        self.assertEqual(f.parse(v), OK)
        self.assertEqual(f.nrp, 8)

    def test_mac_parse_heap_lock(self):
        v = memoryview(mk(A, disc=4, route=(R1, R2, R1, R2), tag=3, hop=2, lsdu=bytes(100)))
        bad = memoryview(mk(A, ecc=3))
        f = Frame()
        f.parse(v)
        micropython.heap_lock()
        try:
            r1 = f.parse(v)
            r2 = f.parse(bad)
        finally:
            micropython.heap_unlock()
        self.assertEqual((r1, r2), (OK, R_ECC))
        self.assertEqual(f.nrp, 4)

    def test_mac_address_helpers(self):
        self.assertEqual(address.aca_wire(A), A)
        self.assertEqual(address.aca_wire(A, True), bytes(reversed(A)))
        self.assertEqual(address.al0(A), 0x11)
        self.assertEqual(address.al0(A, 5), 0x66)
        self.assertRaises(ValueError, address.aca_wire, A[:5])
        self.assertRaises(ValueError, address.check_sca, A)
        self.assertRaises(ValueError, address.check_sca, BCAST)
        self.assertEqual(address.check_sca(SCA), SCA)
        self.assertIsNone(address.check_sca(None))
        self.assertTrue(address.eq6(b"\x00" + A, 1, A))
        self.assertNotEqual(aca(1)[5], 3)

    def test_mac_crc16_check_value(self):
        self.assertEqual(crc16_ccitt(b"123456789", 9), 0x29B1)
