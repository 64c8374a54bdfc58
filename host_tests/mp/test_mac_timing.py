"""mac.timing: discipline table, RC slot randomness bounds, airtime, timeout formula."""

import unittest

from mac import timing
from mac_util import Rng, air
from phy import profile

# Expected per nibble, typed from smitp-public-facts §2: (class, max answer, slots)
TABLE = [
    ("S", 0, 0),
    ("S", 0, 0),
    ("RA1", 20, 0),
    ("RA2", 40, 0),
    ("RA3", 60, 0),
    ("RA4", 80, 0),
    ("RA5", 100, 0),
    ("RA6", 120, 0),
    ("RA7", 140, 0),
    ("RB1", 20, 0),
    ("RB2", 30, 0),
    ("RB3", 50, 0),
    ("RC1", 90, 8),
    ("RC2", 90, 16),
    ("RC3", 90, 32),
    ("RC4", 90, 64),
]


class TestMacTiming(unittest.TestCase):
    def test_mac_discipline_table(self):
        for d, (name, mx, slots) in enumerate(TABLE):
            self.assertEqual(timing.disc_name(d), name)
            self.assertEqual(timing.max_response(d), mx)
            self.assertEqual(timing.answer_limit(d), min(mx, 128))
            self.assertEqual(timing.rc_slots(d), slots)
            self.assertEqual(
                timing.CLASS_NAMES[timing.disc_class(d)], name[:2].rstrip("0123456789")
            )

    def test_mac_rc_slot_bounds_and_spread(self):
        rng = Rng(1234)
        for d in range(16):
            slots = timing.rc_slots(d)
            seen = set()
            for _ in range(2000):
                k = timing.pick_slot(d, rng)
                self.assertTrue(0 <= k < max(slots, 1))
                seen.add(k)
            self.assertEqual(len(seen), max(slots, 1))  # every slot gets used
        # a generator that returns more bits than asked stays in bounds
        self.assertEqual(timing.pick_slot(12, lambda n: 0xFFFFFFF), 7)

    def test_mac_rc_slot_uniformity(self):
        rng = Rng(99)
        counts = [0] * 8
        n = 8000
        for _ in range(n):
            counts[timing.pick_slot(12, rng)] += 1
        for c in counts:
            self.assertTrue(800 < c < 1200, counts)

    def test_mac_slot_start(self):
        self.assertEqual(timing.slot_start_ms(1000, 0), 1020)
        self.assertEqual(timing.slot_start_ms(1000, 3), 1020 + 750)
        self.assertEqual(timing.slot_start_ms(1000, 2, tel_ms=5, tc_ms=100), 1205)

    def test_mac_has_no_airtime_of_its_own(self):
        # time on air comes from the PHY object (phy.airtime_ms); the sim links use the profile
        self.assertFalse(hasattr(timing, "airtime_ms"))
        self.assertFalse(hasattr(timing, "airtime_us"))
        for n in (12, 100, 187, 255):
            self.assertEqual(air(n), (profile.airtime_us(n) + 999) // 1000)

    def test_mac_response_timeout_formula(self):
        A = air
        # RA1 direct, request 14 bytes: 1 link
        exp = A(14) + 20 + A(11 + 20) + 20 + 100
        self.assertEqual(timing.response_timeout_ms(air, 2, 0, 6, 14), exp)
        # RB3 via 4 ACA repeaters, request 40 bytes: 5 links, answer frame 11+24+50
        exp = 5 * (A(40) + 20 + A(11 + 24 + 50) + 20) + 100
        self.assertEqual(timing.response_timeout_ms(air, 11, 4, 6, 40), exp)
        # RA7 is capped at the LSDU limit
        exp = A(14) + 20 + A(11 + 128) + 20 + 100
        self.assertEqual(timing.response_timeout_ms(air, 8, 0, 6, 14), exp)
        # RC2 direct: request + TEL + 16 slots
        self.assertEqual(
            timing.response_timeout_ms(air, 13, 0, 6, 16), A(16) + 20 + 16 * 250 + 100
        )
        # RC1 via 2 repeaters, custom TEL/TC/add
        exp = 3 * (A(30) + 5) + 8 * 100 + 2 * (A(11 + 12 + 90) + 5) + 0
        self.assertEqual(timing.response_timeout_ms(air, 12, 2, 6, 30, 5, 100, 0), exp)
        # S: nothing to wait for; repeater view over fewer links
        self.assertEqual(timing.response_timeout_ms(air, 0, 3, 6, 40), 0)
        exp = 2 * (A(40) + 20 + A(11 + 18 + 20) + 20) + 100
        self.assertEqual(timing.response_timeout_ms(air, 2, 3, 6, 40, links=2), exp)

    def test_mac_reqaddr_round(self):
        exp = 20 + 64 * 250 + air(101) + 20 + 100
        self.assertEqual(timing.reqaddr_round_ms(air), exp)

    def test_mac_retries(self):
        self.assertEqual(timing.RETRIES_DEFAULT, 2)
        for n in range(11):
            self.assertEqual(timing.check_retries(n), n)
        self.assertRaises(ValueError, timing.check_retries, -1)
        self.assertRaises(ValueError, timing.check_retries, 11)

    def test_mac_frame_len(self):
        self.assertEqual(timing.frame_len(0, 6, 1), 12)
        self.assertEqual(timing.frame_len(8, 6, 128), 187)
        self.assertEqual(timing.frame_len(8, 2, 128), 155)
