"""Small-int bounds of the metering state (docs/metering.md §9): on the STM32 and ESP32 a
MicroPython int of 2**30 or more is a heap-allocated long int; the unix port's small ints have
63 bits, so these tests check the bound explicitly. A meter life of 20 years at 100 A / 230 V
(23 kW without pause: 4.03e9 Wh) is driven through the energy registers, the state record, the
published registers and the daily energies; every int the objects keep must stay below 2**30,
and the whole values must still be exact."""

import struct
import unittest

from datamodel import metering as mt
from energy_bench import START, EnergyBench
from metering.energy import A_MINUS, A_PLUS, N_REG, Q1, Q2, T1, WH, Energy

SMALL = 1 << 30
LIFE_WH = 20 * 8766 * 23_000  # 20 years at 23 kW: 4 032 360 000 Wh (fits the u32 register)
P_MAX_MWS = 146_880_000  # one second at 1.2 x 480 V x 255 A, the largest booking docs allow


def big_ints(obj, seen=None):
    """Names of every int >= 2**30 (in magnitude) among obj's attributes, lists and tuples."""
    out = []
    for name in dir(obj):
        if name.startswith("__"):
            continue
        try:
            v = getattr(obj, name)
        except AttributeError:
            continue
        vals = v if isinstance(v, (list, tuple)) else (v,)
        for x in vals:
            if isinstance(x, int) and not isinstance(x, bool) and not -SMALL < x < SMALL:
                out.append(name)
    return out


def aged(wh_a_plus, wh_q1, pulses):
    """An Energy restored from a state record as a meter would hold it after a long life."""
    e = Energy()
    buf = bytearray(200)
    e.pack_into(buf, 0)
    struct.pack_into(">I", buf, 0, wh_a_plus)  # A+ (u32 on the record: two u16 here)
    struct.pack_into(">I", buf, 8 * Q1, wh_q1)
    struct.pack_into(">I", buf, 8 * T1, wh_a_plus)
    struct.pack_into(">I", buf, 8 * N_REG, pulses)
    assert e.unpack_from(buf, 0)
    return e


class TestEnergyParts(unittest.TestCase):
    def test_twenty_years_at_100_a_stay_small(self):
        e = aged(LIFE_WH - 10_000, 2_000_000_000, 4_000_000_000)
        e.new_day(9826)
        base = e.exact(A_PLUS)
        booked = 0
        for _ in range(20_000):  # 20 000 s at the largest booking: 816 kWh more
            e.book(P_MAX_MWS, P_MAX_MWS // 3, 1, 10_000)
            booked += P_MAX_MWS
        self.assertEqual(big_ints(e), ["pulses"])  # a property: built on demand, not kept
        for v in e.parts():
            self.assertTrue(0 <= v < SMALL, v)
        self.assertEqual(e.exact(A_PLUS), base + booked)
        self.assertEqual(e.value(A_PLUS), (base + booked) // WH)
        self.assertEqual(e.daily(0), (base + booked) // WH - base // WH)
        self.assertTrue(e.value(A_PLUS) >= SMALL)  # the case this file is about

    def test_registers_wrap_at_2_32_like_their_u32_rows(self):
        e = aged(0xFFFFFFFF, 0, 0xFFFFFFFF)
        e.new_day(1)
        e.book(2 * WH, 0, 1, 1_000_000)  # 2 Wh; 2 000 mWh x 10**6 / 10**6 = 2000 pulses
        self.assertEqual(e.value(A_PLUS), 1)
        self.assertEqual(e.daily(0), 2)
        self.assertEqual(e.pulses, 1999)
        for v in e.parts():
            self.assertTrue(0 <= v < SMALL, v)

    def test_daily_reactive_sums_two_registers_across_a_carry(self):
        e = aged(0, 0x3FFF_FFF0, 0)
        e.book(1000, 40 * WH, 1, 1000)  # Q1 crosses the 16-bit boundary inside the day
        e.new_day(5)
        e.book(1000, 40 * WH, 1, 1000)
        self.assertEqual(e.daily(2), 40)
        self.assertEqual(e.daily(0), 0)

    def test_a_whole_value_in_the_state_is_found(self):
        # the check itself: an Energy keeping a whole register as one int fails it
        e = Energy()
        e.wh[A_MINUS] = LIFE_WH
        self.assertEqual(big_ints(e), ["wh"])


class TestStpmPower(unittest.TestCase):
    def test_mean_power_without_the_long_product(self):
        from drivers.stpm3x import _per_s

        for e in (0, 1, -1, P_MAX_MWS, -P_MAX_MWS, 600 * 16_560_000, -999_999_999):
            for dt in (1, 999, 1000, 1001, 600_000):
                self.assertEqual(_per_s(e, dt), e * 1000 // dt, (e, dt))
                q = e // dt
                self.assertTrue((e - q * dt) * 1000 < SMALL)  # the only product it forms


class TestStpmDecode(unittest.TestCase):
    """The driver's per-read products in small ints (metrology.stpm3x.mulshr, Energy.take),
    checked against the plain products (exact on the unix port's 63-bit ints)."""

    def test_mulshr_is_the_floor_of_the_product(self):
        from metrology.scenario_gen import Rng
        from metrology.stpm3x import mulshr

        rng = Rng(20261130)
        xs = [0, 1, -1, (1 << 27) - 1, -(1 << 27), 0x7FFF, 0x1FFFF]
        xs += [rng.next() % (1 << 28) - (1 << 27) for _ in range(300)]
        nums = [0, 1, 4095, 4096, (1 << 24) - 1, 2325482, 112381, 16333745]
        nums += [rng.next() % (1 << 24) for _ in range(20)]
        for x in xs:
            for num in nums:
                for sh in (12, 16, 24, 26):
                    self.assertEqual(mulshr(x, num, sh), (x * num) >> sh, (x, num, sh))

    def test_scale_and_inputs_fit_mulshr(self):
        from metrology import stpm3x as ic

        sc = ic.default_scale()
        for num in (sc.v_num, sc.i_num, sc.p_num, sc.e_num):
            self.assertTrue(0 <= num < 1 << 24, num)
        self.assertEqual(sc.e_bits, 24)  # Energy.take's small-int path
        self.assertEqual(ic.signed(0x0800_0000, 28), -(1 << 27))  # p_raw: 28-bit signed

    def test_energy_take_matches_the_wide_sum(self):
        from metrology import stpm3x as ic
        from metrology.scenario_gen import Rng

        sc = ic.default_scale()
        fast = ic.Energy(sc.e_num, sc.e_bits)
        rng = Rng(7)
        x_rem = 0
        total = 0
        for k in range(3000):
            d = rng.next() % (1 << 29) - (1 << 28) if k % 3 else rng.next() % 200_000
            if k == 5:
                d = (1 << 30) + 12345  # a gap: the long-int path
            x = d * sc.e_num + x_rem
            x_rem = x & ((1 << 24) - 1)
            got = fast.take(0, 0, d)
            self.assertEqual((got, fast.rem), (x >> 24, x_rem), d)
            total += got
        self.assertTrue(total != 0)

    def test_delta_across_the_wrap(self):
        from metrology import stpm3x as ic

        e = ic.Energy(1, 24)
        e.base(0xFFF0, 0xFFFF)  # 0xFFFFFFF0
        self.assertEqual(e.delta(0x0010, 0x0000), 0x20)
        self.assertEqual(e.delta(0xFFE0, 0xFFFF), -0x10)
        e.base(0, 0)
        self.assertEqual(e.delta(0, 0x8000), -0x80000000)
        self.assertEqual(e.delta(0xFFFF, 0x7FFF), 0x7FFFFFFF)


class TestEngineRegisters(unittest.TestCase):
    def test_published_registers_of_an_old_meter(self):
        b = EnergyBench("small_ints", start=START)
        try:
            m = b.meter
            old = aged(LIFE_WH, 3_000_000_000, 4_100_000_000)
            old.new_day(9826)
            m.energy.energy = old
            b.run(5)
            e = m.energy.energy
            for v in e.parts():
                self.assertTrue(0 <= v < SMALL, v)
            self.assertEqual(big_ints(e), ["pulses"])
            self.assertEqual(big_ints(m.energy), [])
            self.assertEqual(big_ints(m.energy.quality), [])
            ms = m.metering
            self.assertEqual(ms.get(mt.ACTIVE_IMPORT, 4), e.value(A_PLUS))
            self.assertEqual(ms.get(mt.IMPORT_T1, 4), e.value(T1))
            self.assertEqual(ms.get(mt.LED_PULSES, 4), e.pulses)
            self.assertEqual(ms.get(mt.DAILY_REACTIVE, 4), e.daily(2))
            self.assertEqual(e.value(Q1) + e.value(Q2) - 3_000_000_000, e.daily(2))
            self.assertTrue(e.value(A_PLUS) >= LIFE_WH)
        finally:
            b.close()


if __name__ == "__main__":
    unittest.main()
