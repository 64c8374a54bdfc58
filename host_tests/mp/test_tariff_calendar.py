"""Calendar and tariffs (docs/tariffs.md): EU summer time, local days, the precedence holiday >
season > weekday, contract plans, next_switch exact to the second, and meter.tariffs following
the data model. The exhaustive cross-checks against CPython (zoneinfo, an independent tariff
implementation) are host_tests/py/test_tariff_ref.py."""

import unittest

import alfix
import civiltime
from datamodel import metering as mt
from datamodel import registers
from tariff.calendar import Calendar
from tariff.zone import Zone, last_sunday

S = civiltime.seconds

# An Italian-style three-band programme (ARERA F1/F2/F3): Mon-Fri 08-19 F1, 07-08 and 19-23 F2,
# else F3; Saturday 07-23 F2, else F3; Sundays and holidays F3 all day.
ITALY = bytes(
    (0, 0, 0, 3, 0, 7, 0, 2, 0, 8, 0, 1, 0, 19, 0, 2, 0, 23, 0, 3)
    + (1, 0, 0, 3, 1, 7, 0, 2, 1, 23, 0, 3)
    + (2, 0, 0, 3)
)
HOLIDAYS = bytes((1, 1, 0, 2, 12, 25, 0, 2, 4, 6, 26, 2))  # Jan 1, Dec 25, Easter Monday 2026


def cal(weekly=ITALY, seasons=b"\x01\x01\x00\x00", holidays=HOLIDAYS, plan1=1, plan2=0, c2=0):
    c = Calendar()
    c.configure(60, 1, weekly, seasons, holidays, plan1, plan2, c2)
    return c


def rome(y, mo, d, h=0, mi=0, s=0, dst=False):
    # a Rome wall time that is not ambiguous, to UTC
    return S(y, mo, d, h, mi, s) - 3600 - (3600 if dst else 0)


class TestZone(unittest.TestCase):
    def test_switch_dates_of_the_facts_table(self):
        # metering-facts §4: (year, March day, October day)
        for y, mar, octo in ((2025, 30, 26), (2026, 29, 25), (2027, 28, 31), (2028, 26, 29)):
            self.assertEqual(last_sunday(y, 3), S(y, 3, mar, 1))
            self.assertEqual(last_sunday(y, 10), S(y, 10, octo, 1))
        self.assertEqual(last_sunday(2029, 3), S(2029, 3, 25, 1))
        self.assertEqual(last_sunday(2030, 10), S(2030, 10, 27, 1))

    def test_local_around_both_transitions(self):
        z = Zone(60, 1)
        a = S(2026, 3, 29, 1)
        self.assertEqual(z.local(a - 1), (2026, 3, 29, 1, 59, 59, 6, False))
        self.assertEqual(z.local(a), (2026, 3, 29, 3, 0, 0, 6, True))
        b = S(2026, 10, 25, 1)
        self.assertEqual(z.local(b - 1), (2026, 10, 25, 2, 59, 59, 6, True))
        self.assertEqual(z.local(b), (2026, 10, 25, 2, 0, 0, 6, False))
        self.assertEqual(Zone(60, 0).local(a), (2026, 3, 29, 2, 0, 0, 6, False))
        self.assertEqual(Zone(-300, 0).local(S(2024, 3, 1, 2)), (2024, 2, 29, 21, 0, 0, 3, False))

    def test_wall_to_utc_in_the_gap_and_the_repeated_hour(self):
        z = Zone(60, 1)
        w = S(2026, 3, 29, 2, 30)  # does not exist: summer time starts
        self.assertEqual(z.utc(w), S(2026, 3, 29, 1))
        self.assertEqual(z.utc(S(2026, 3, 29, 3)), S(2026, 3, 29, 1))
        w = S(2026, 10, 25, 2, 30)  # exists twice: the first (summer) pass
        self.assertEqual(z.utc(w), S(2026, 10, 25, 0, 30))
        self.assertEqual(z.utc(S(2026, 10, 25, 3)), S(2026, 10, 25, 2))
        b = last_sunday(2026, 10)
        for u in range(S(2026, 1, 1), S(2027, 1, 1), 3 * 3600 + 7):
            # the second pass of the repeated hour maps back to the first pass
            self.assertEqual(z.utc(z.wall(u)), u - 3600 if b <= u < b + 3600 else u)
        self.assertEqual(z.utc(z.wall(b + 60)), b + 60 - 3600)


class TestCalendar(unittest.TestCase):
    def test_italian_bands_weekdays_saturday_sunday_holiday(self):
        c = cal()
        self.assertEqual(c.current(rome(2026, 12, 7, 7, 59, 59)), 2)  # Monday
        self.assertEqual(c.current(rome(2026, 12, 7, 8)), 1)
        self.assertEqual(c.current(rome(2026, 12, 7, 18, 59, 59)), 1)
        self.assertEqual(c.current(rome(2026, 12, 7, 19)), 2)
        self.assertEqual(c.current(rome(2026, 12, 7, 23, 30)), 3)
        self.assertEqual(c.current(rome(2026, 12, 5, 12)), 2)  # Saturday
        self.assertEqual(c.current(rome(2026, 12, 6, 12)), 3)  # Sunday
        self.assertEqual(c.current(rome(2026, 12, 25, 12)), 3)  # Friday, Christmas
        self.assertEqual(c.current(rome(2026, 4, 6, 12, dst=True)), 3)  # Easter Monday 2026
        self.assertEqual(c.current(rome(2027, 3, 29, 12, dst=True)), 1)  # one-off: not 2027

    def test_next_switch_is_exact_and_skips_non_changes(self):
        c = cal()
        u = rome(2026, 12, 7, 10)
        self.assertEqual(c.next_switch(u), rome(2026, 12, 7, 19))
        self.assertEqual(c.next_switch(rome(2026, 12, 7, 19) - 1), rome(2026, 12, 7, 19))
        # Saturday 23:00 F3 -> Sunday F3 all day -> Monday 07:00 F2 is more than a day ahead
        u = rome(2026, 12, 5, 23)
        self.assertEqual(c.next_switch(u), u + 86400)
        self.assertEqual(c.next_switch(rome(2026, 12, 6, 8)), rome(2026, 12, 7, 7))

    def test_switch_in_the_march_gap_and_the_october_repeat(self):
        wk = bytes((0, 0, 0, 1, 0, 2, 30, 2, 2, 0, 0, 1, 2, 2, 30, 2, 2, 4, 0, 3))
        c = cal(weekly=wk, holidays=b"")
        # Sunday 2026-03-29: 02:30 does not exist -> the switch happens at 03:00 CEST
        self.assertEqual(c.next_switch(S(2026, 3, 28, 23)), S(2026, 3, 29, 1))
        self.assertEqual(c.current(S(2026, 3, 29, 1) - 1), 1)
        self.assertEqual(c.current(S(2026, 3, 29, 1)), 2)
        # Sunday 2026-10-25: 02:30 on the first pass, no return to tariff 1 on the second
        self.assertEqual(c.next_switch(S(2026, 10, 24, 23)), S(2026, 10, 25, 0, 30))
        for u in range(S(2026, 10, 25, 0, 30), S(2026, 10, 25, 3), 60):
            self.assertEqual(c.current(u), 2)
        self.assertEqual(c.next_switch(S(2026, 10, 25, 0, 30)), S(2026, 10, 25, 3))  # 04:00 CET

    def test_seasons_per_plan_and_wrap_around(self):
        wk = bytes((0, 0, 0, 1, 0x10, 0, 0, 2, 0x20, 0, 0, 3))
        seasons = bytes((4, 1, 1, 0, 10, 1, 0, 0, 6, 1, 2, 2))  # plan 2 adds a June season
        c = cal(weekly=wk, seasons=seasons, holidays=b"")
        self.assertEqual(c.current(rome(2026, 1, 14, 12)), 1)  # wraps to Oct 1: prog 0
        self.assertEqual(c.current(rome(2026, 7, 15, 12, dst=True)), 2)  # Apr 1: prog 1
        c = cal(weekly=wk, seasons=seasons, holidays=b"", plan1=2)
        self.assertEqual(c.current(rome(2026, 7, 15, 12, dst=True)), 3)  # Jun 1: prog 2
        self.assertEqual(c.current(rome(2026, 5, 15, 12, dst=True)), 2)

    def test_contract_2_plan_takes_over_at_its_start(self):
        c2 = rome(2026, 12, 9, 10, 17, 5)  # Wednesday, inside F1
        c = cal(plan1=1, plan2=0, c2=c2)
        self.assertEqual(c.current(c2 - 1), 1)
        self.assertEqual(c.current(c2), 1)  # plan 0: single rate, tariff 1
        u = rome(2026, 12, 9, 9)  # F1 until c2, then tariff 1 for good: no change
        self.assertEqual(c.next_switch(u), u + 86400)
        c = cal(plan1=0, plan2=1, c2=c2)
        self.assertEqual(c.current(c2 - 1), 1)
        self.assertEqual(c.next_switch(rome(2026, 12, 9, 6)), rome(2026, 12, 9, 19))
        c = cal(plan1=0, plan2=1, c2=rome(2026, 12, 9, 20))
        self.assertEqual(c.next_switch(rome(2026, 12, 9, 6)), rome(2026, 12, 9, 20))

    def test_an_unset_clock_near_zero_in_any_offset(self):
        for off in (-720, -60, 0, 60, 840):
            c = Calendar()
            c.configure(off, 1, ITALY, b"\x01\x01\x00\x00", HOLIDAYS, 1)
            for u in (0, 1, 3599, 86399, 90000):
                self.assertIn(c.current(u), (1, 2, 3))
                self.assertGreater(c.next_switch(u), u)
                self.assertEqual(c.local(u)[0], 2000)

    def test_a_day_is_built_once_and_current_allocates_nothing(self):
        c = cal()
        u = rome(2026, 12, 7, 0)
        c.current(u)
        c.current(u + 86400)
        n = c.builds
        import micropython

        micropython.heap_lock()
        try:
            for s in range(u, u + 2 * 86400, 61):
                c.current(s)
        finally:
            micropython.heap_unlock()
        self.assertEqual(c.builds, n)


class TestMeterTariffs(unittest.TestCase):
    def setUp(self):
        self.b = alfix.Bench("tariff_cal")
        self.m = self.b.meter

    def tearDown(self):
        self.b.close()

    def test_tables_and_contract_take_effect_at_the_next_call(self):
        m = self.m
        u = rome(2026, 12, 7, 10)
        self.assertEqual(m.tariffs.current(u), 1)  # defaults: one switch point, tariff 1
        self.assertEqual(m.model.set_table(0x0900, ITALY), 0)
        self.assertEqual(m.tariffs.current(u), 1)
        self.assertEqual(m.tariffs.current(rome(2026, 12, 7, 20)), 2)
        self.assertEqual(m.model.write(registers.find(0x0801), b"\x00"), 0)  # plan 0
        self.assertEqual(m.tariffs.current(rome(2026, 12, 7, 20)), 1)
        self.assertEqual(m.model.write(registers.find(0x0101), b"\x00\x00"), 0)  # UTC
        self.assertEqual(m.tariffs.local(S(2026, 12, 7, 20))[3], 20)

    def test_tables_are_validated_record_by_record(self):
        md = self.m.model
        before = md.tables[0x0901].data
        for bad in (
            b"\x02\x1e\x00\x00",
            b"\x04\x1f\x00\x00",
            b"\x0d\x01\x00\x00",
            b"\x01\x01\x10\x00",
        ):
            self.assertEqual(md.set_table(0x0901, b"\x01\x01\x00\x00" + bad), 6, bad)
        self.assertIs(md.tables[0x0901].data, before)
        self.assertEqual(md.set_table(0x0901, b"\x02\x1d\x01\x02"), 0)  # 29 February
        self.assertEqual(md.set_table(0x0A00, b"\x01\x01\x64\x02"), 6)  # year 2100
        self.assertEqual(md.set_table(0x0A00, b"\x01\x01\x00\x04"), 6)  # day type 4
        self.assertEqual(md.set_table(0x0900, b"\x04\x00\x00\x01"), 6)  # day type 4
        self.assertEqual(md.set_table(0x0900, b"\x00\x18\x00\x01"), 6)  # 24:00
        self.assertEqual(md.set_table(0x0900, b"\x00\x00\x00\x05"), 6)  # tariff 5
        self.assertEqual(md.set_table(0x0900, b"\xf3\x17\x3b\x04"), 0)  # prog 15, holiday

    def test_on_second_keeps_active_tariff_register(self):
        m = self.m
        m.model.set_table(0x0900, ITALY)
        u = rome(2026, 12, 7, 18, 59, 58)
        for s in (u, u + 1, u + 2):
            for fn in m.on_second:
                fn(s)
            self.assertEqual(m.metering.buf[mt.ACTIVE_TARIFF], 1 if s < u + 2 else 2)
        self.assertEqual(m.model.get_int(0x0902), 2)


if __name__ == "__main__":
    unittest.main()
