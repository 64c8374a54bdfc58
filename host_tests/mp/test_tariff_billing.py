"""Billing (docs/tariffs.md §5-§7) on a real meter: the scheduled close at the exact second,
the close on command, billing data sets and virtual registers, maximum demand per tariff,
clock steps across a billing time, persistence across a restart. The energy engine is a
stand-in with the documented Seam D API; an independent CPython check of the demand and the
close times is host_tests/py/test_tariff_ref.py."""

import struct
import unittest

import alfix
import civiltime
from datamodel import events, registers
from datamodel import metering as mt
from smitp import commands
from tariff import billing

ITALY = bytes(
    (0, 0, 0, 3, 0, 7, 0, 2, 0, 8, 0, 1, 0, 19, 0, 2, 0, 23, 0, 3)
    + (1, 0, 0, 3, 1, 7, 0, 2, 1, 23, 0, 3)
    + (2, 0, 0, 3)
)


def rome(y, mo, d, h=0, mi=0, s=0):  # winter time
    return civiltime.seconds(y, mo, d, h, mi, s) - 3600


class StandInEnergy:
    """Seam D as documented: totals(), tariff_wh(t) and the group 0x04 registers published
    every second; books each second's import into the tariff in force at the second's start,
    in whole Wh with the remainder carried."""

    def __init__(self, meter):
        self.m = meter
        self.wh = [0, 0, 0, 0]
        self.rest = 0
        self.export = 0

    def totals(self):
        return (sum(self.wh), self.export, 0, 0, 0, 0)

    def tariff_wh(self, t):
        return self.wh[t - 1]

    def second(self, u, p_w):
        """Meter the second [u - 1, u) at p_w watts, then run the on_second listeners."""
        m = self.m
        m.metering.set(mt.POWER, 4, p_w)
        if p_w > 0:
            q, self.rest = divmod(self.rest + p_w, 3600)
            self.wh[m.tariffs.current(u - 1) - 1] += q
        m.metering.set(mt.ACTIVE_IMPORT, 4, sum(self.wh))  # and publishes group 0x04
        for t in range(4):
            m.metering.set(mt.IMPORT_T1 + 4 * t, 4, self.wh[t])
        m.hw.rtc.t = u
        for fn in m.on_second:
            fn(u)


class Case(unittest.TestCase):
    def setUp(self):
        self.b = alfix.Bench("tariff_bill")
        self.boot()

    def boot(self):
        self.m = self.b.meter if not hasattr(self, "m") else self.b.boot()
        self.m.energy = StandInEnergy(self.m)
        self.e = self.m.energy
        self.m.model.set_table(0x0900, ITALY)

    def tearDown(self):
        self.b.close()

    def records(self):
        t = self.m.model.tables[0x1400]
        return [bytes(t.record(i)) for i in range(t.first(), t.end)]

    def events(self, code):
        t = self.m.model.tables[0x1300]
        out = []
        for i in range(t.first(), t.end):
            r = bytes(t.record(i))
            if struct.unpack_from(">H", r, 4)[0] == code:
                out.append(struct.unpack(">IHH", r))
        return out


class TestClose(Case):
    def test_scheduled_close_at_the_exact_second(self):
        md = self.m.model
        # monthly, day 1, 00:00 local: 2027-01-01 00:00 CET = 2026-12-31 23:00 UTC
        md.set_ints(((0x0600, 1), (0x0601, 1), (0x0602, 0)))
        close = rome(2027, 1, 1)
        for u in range(close - 1000, close + 120):
            self.e.second(u, 2000)
            if u == close:
                at_close = self.e.totals()[0]
                per_tariff = [self.e.tariff_wh(t) for t in (1, 2, 3, 4)]
        recs = self.records()
        self.assertEqual(len(recs), 1)
        f = struct.unpack(">IBIIIIII" + "II" * 4, recs[0])
        self.assertEqual(f[0], close)
        self.assertEqual(f[1], billing.CAUSE_SCHEDULED)
        self.assertEqual(f[2], at_close)
        self.assertEqual(list(f[4:8]), per_tariff)
        self.assertEqual(md.get_int(0x0603), close)
        self.assertEqual(md.get_int(0x0604), 1)
        self.assertEqual([e[2] for e in self.events(events.BILLING_SCHEDULED)], [1])
        # the 15-minute block ending at the close (F3, 2000 W) counted before the reset: it is
        # in the closed data set, and the new period starts from zero
        self.assertEqual(f[12:14], (2000, close))
        self.assertEqual(self.m.billing.md_w, [0, 0, 0, 0])
        self.assertEqual(md.get_int(0x1512), self.e.tariff_wh(3) - f[6])
        self.assertEqual(self.m.billing.next_close(close), rome(2027, 2, 1))

    def test_every_two_months_in_summer_time_and_the_hour(self):
        md = self.m.model
        md.set_ints(((0x0600, 2), (0x0601, 15), (0x0602, 6)))
        nc = self.m.billing.next_close
        # odd months, local 06:00: July is summer time (UTC+2)
        self.assertEqual(nc(rome(2026, 5, 20)), civiltime.seconds(2026, 7, 15, 4))
        self.assertEqual(nc(civiltime.seconds(2026, 7, 15, 4)), rome(2026, 9, 15, 6) - 3600)
        self.assertEqual(nc(rome(2026, 11, 20)), rome(2027, 1, 15, 6))
        md.set_ints(((0x0600, 0),))
        self.assertEqual(nc(rome(2026, 11, 20)), 0)

    def test_close_on_command_and_virtual_registers(self):
        u0 = rome(2026, 12, 7, 18, 50)  # Monday F1, then F2 from 19:00
        for u in range(u0 + 1, u0 + 1201):
            self.e.second(u, 3600)  # 1 Wh per second, [18:50, 19:10)
        self.assertEqual(self.m.model.get_int(0x1510), 600)
        self.assertEqual(self.m.model.get_int(0x1511), 600)
        self.assertEqual(commands.COMMANDS[commands.BILLING_CLOSE][2](self.m, b""), 0)
        f = struct.unpack(">IBIIIIII" + "II" * 4, self.records()[-1])
        self.assertEqual((f[0], f[1], f[2], f[4], f[5]), (u0 + 1200, 2, 1200, 600, 600))
        self.assertEqual(f[8:10], (2400, rome(2026, 12, 7, 19)))  # T1: 600 s of 18:45-19:00
        self.assertEqual(
            f[10:12], (0, 0)
        )  # T2's block is still open: it counts in the next period
        for oid in (0x1500, 0x1510, 0x1511, 0x1610, 0x1611, 0x1600):
            self.assertEqual(self.m.model.get_int(oid), 0, hex(oid))
        self.assertEqual(len(self.events(events.BILLING_CLOSE)), 1)
        self.e.second(u0 + 1201, 3600)
        self.assertEqual(self.m.model.get_int(0x1511), 1)

    def test_clock_steps_across_the_billing_time(self):
        md = self.m.model
        md.set_ints(((0x0600, 1), (0x0601, 1), (0x0602, 0)))
        close = rome(2027, 1, 1)
        self.e.second(close - 10, 0)
        self.e.second(close + 3000, 0)  # set forward over it: closes once, at that second
        self.e.second(close + 3001, 0)
        self.assertEqual([struct.unpack_from(">I", r)[0] for r in self.records()], [close + 3000])
        for u in range(close - 5, close + 5):  # set back before it: no second close
            self.e.second(u, 0)
        self.assertEqual(len(self.records()), 1)
        self.assertEqual(self.m.billing._next, rome(2027, 2, 1))

    def test_contract_2_start_closes_the_period_once(self):
        md = self.m.model
        c2 = rome(2026, 12, 9, 10, 17, 5)
        md.write(registers.find(0x0811), b"\x02")
        md.write(registers.find(0x0812), struct.pack(">I", c2))
        for u in range(c2 - 30, c2 + 30):
            self.e.second(u, 3600)
            if u == c2 + 2:
                md.tick(u)  # the housekeeping copies contract 2 into 1 a little later
        f = [struct.unpack(">IBI", r[:9]) for r in self.records()]
        self.assertEqual(f, [(c2, billing.CAUSE_CONTRACT, 31)])  # [c2 - 31, c2)
        self.assertEqual(md.get_int(0x0801), 2)
        self.assertEqual(len(self.events(events.BILLING_CONTRACT)), 1)
        # a start moved, then cancelled before its time: no close
        md.write(registers.find(0x0812), struct.pack(">I", c2 + 3600))
        self.e.second(c2 + 31, 0)
        md.write(registers.find(0x0812), struct.pack(">I", c2 + 1800))
        self.e.second(c2 + 32, 0)
        md.write(registers.find(0x0812), b"\x00\x00\x00\x00")
        for u in range(c2 + 33, c2 + 4000, 7):
            self.e.second(u, 0)
        self.assertEqual(len(self.records()), 1)

    def test_a_close_cut_after_its_data_set_is_completed_at_the_next_start(self):
        md = self.m.model
        md.set_ints(((0x0600, 1), (0x0601, 1), (0x0602, 0)))
        close = rome(2027, 1, 1)
        for u in range(close - 1000, close):
            self.e.second(u, 2000)
        bl = self.m.billing
        self.assertGreater(bl.md_w[2], 0)
        # power cut right after the data set's store write: only step 1 happened
        md.tables[0x1400].append(bl.record(close, billing.CAUSE_SCHEDULED))
        self.boot()
        md = self.m.model
        self.assertEqual((md.get_int(0x0603), md.get_int(0x0604)), (close, 1))
        self.assertEqual(self.m.billing.md_w, [0, 0, 0, 0])
        self.assertEqual(len(self.events(events.BILLING_SCHEDULED)), 1)
        for u in range(close, close + 100):
            self.e.second(u, 2000)
        self.assertEqual(len(self.records()), 1)  # no second close of that period
        self.boot()
        self.assertEqual(self.m.model.get_int(0x0604), 1)  # nothing more to complete

    def test_invalid_clock_never_closes(self):
        self.m.model.set_ints(((0x0600, 1), (0x0601, 1), (0x0602, 0)))
        for u in range(civiltime.seconds(2001, 1, 1) - 5, civiltime.seconds(2001, 1, 1) + 5000):
            self.e.second(u, 0)
        self.assertEqual(self.records(), [])


class TestDemand(Case):
    def test_per_tariff_blocks_and_total(self):
        self.m.model.set_ints(((0x1602, 15),))
        u0 = rome(2026, 12, 7, 7, 30)  # F2 until 08:00, then F1
        series = []
        for i in range(3600):
            p = 1000 + (i * 37) % 900 + (2500 if 1800 <= i < 1950 else 0)
            series.append(p)
            self.e.second(u0 + i + 1, p)
        blocks = [sum(series[k : k + 900]) // 900 for k in range(0, 3600, 900)]
        bl = self.m.billing
        self.assertEqual(bl.md_w[1], max(blocks[:2]))
        self.assertEqual(bl.md_w[0], max(blocks[2:]))
        self.assertEqual(bl.md_t[0], u0 + 900 * (2 + blocks[2:].index(max(blocks[2:]))) + 900)
        self.assertEqual(self.m.model.get_int(0x1600), max(blocks))
        self.assertEqual(self.m.model.get_int(0x1612), 0)

    def test_worked_example_of_the_doc(self):
        # docs/tariffs.md §6: Monday 2026-12-07, P = 15 min
        S = civiltime.seconds
        plan = (
            (S(2026, 12, 7, 6, 45), 900, 2000),
            (S(2026, 12, 7, 7, 0), 900, 3000),
            (S(2026, 12, 7, 17, 45), 900, 2400),
            (S(2026, 12, 7, 18, 0), 600, 3000),
            (S(2026, 12, 7, 18, 10), 300, 0),
        )
        for start, n, p in plan:
            for u in range(start + 1, start + n + 1):
                self.e.second(u, p)
        bl = self.m.billing
        self.assertEqual(bl.md_w[:2], [3000, 2000])
        self.assertEqual(bl.md_t[:2], [S(2026, 12, 7, 7, 15), S(2026, 12, 7, 7, 0)])
        self.assertEqual(self.m.model.get_int(0x1600), 3000)
        self.assertEqual(self.m.model.get_int(0x1601), S(2026, 12, 7, 7, 15))

    def test_a_clock_step_cuts_the_block_short(self):
        u0 = rome(2026, 12, 7, 10)  # F1
        for u in range(u0 + 1, u0 + 451):
            self.e.second(u, 1800)  # half of the block at 1800 W
        self.e.second(u0 + 7200, 1800)  # set forward 2 h: the block ends with what it has
        bl = self.m.billing
        self.assertEqual((bl.md_w[0], bl.md_t[0]), (900, u0 + 900))  # stamped with its end
        for u in range(u0 - 899, u0 + 1):  # set back into the previous block, a full one
            self.e.second(u, 2700)
        self.assertEqual((bl.md_w[0], bl.md_t[0]), (2700, u0))

    def test_export_is_no_demand_and_reset_command(self):
        u0 = rome(2026, 12, 7, 10)
        for i in range(900):
            self.e.second(u0 + i + 1, -5000)
        self.assertEqual(self.m.billing.md_w, [0, 0, 0, 0])
        for i in range(900, 1800):
            self.e.second(u0 + i + 1, 900)
        self.assertEqual(self.m.billing.md_w[0], 900)
        self.assertEqual(commands.COMMANDS[commands.MAX_DEMAND_RESET][2](self.m, b""), 0)
        self.assertEqual((self.m.billing.md_w[0], self.m.model.get_int(0x1620)), (0, 0))

    def test_maxima_and_open_block_survive_a_restart(self):
        u0 = rome(2026, 12, 7, 10)
        for i in range(900 + 300):
            self.e.second(u0 + i + 1, 1200)
        for fn in self.m.savers:
            fn()
        self.boot()
        self.assertEqual(self.m.billing.md_w[0], 1200)
        self.assertEqual(self.m.model.get_int(0x1600), 1200)
        for i in range(1200, 1800):
            self.e.second(u0 + i + 1, 1500)
        self.assertEqual(self.m.billing.md_w[0], (300 * 1200 + 600 * 1500) // 900)

    def test_a_metering_second_allocates_nothing_inside_a_block(self):
        import micropython

        u0 = rome(2026, 12, 7, 10)
        self.e.second(u0 + 1, 1000)
        bl = self.m.billing
        micropython.heap_lock()
        try:
            for u in range(u0 + 2, u0 + 800):
                bl.on_second(u)
        finally:
            micropython.heap_unlock()
        self.assertEqual(bl.ws[0], 1000 * 799)


if __name__ == "__main__":
    unittest.main()
