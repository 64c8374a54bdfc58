"""Power quality (metering.quality through the engine): sags, swells, short and long
interruptions with hysteresis, table 0x0C00 records, counters and events; simulated time with
a scripted front-end voltage per second."""

import unittest

from datamodel import events, registers
from datamodel import metering as mt
from energy_bench import START, EnergyBench

UN = 230_000


def volts(s):
    """(ep, eq, v, vmin, vmax) of second s: the events this test expects, in order."""
    k = s - START
    v = vmin = vmax = UN
    if 10 <= k < 14:
        v, vmin = 200_000, 180_000  # sag below 90 % (207 V)
    elif 14 <= k < 16:
        vmin = 210_000  # above 90 % but below 92 %: the sag goes on (hysteresis)
    elif 30 <= k < 33:
        vmax = 260_000  # swell above 110 % (253 V)
    elif 50 <= k < 60 or 100 <= k < 300 or 402 <= k < 405:
        v = vmin = vmax = 0  # interruption: 10 s short, 200 s long, 3 s short
    elif 400 <= k < 402:
        v, vmin = 150_000, 140_000  # a sag that deepens into an interruption
    ep = 500_000 if v else 0
    return ep, 0, v, vmin, vmax


def _records(m, oid):
    t = m.model.tables[oid]
    return [bytes(t.record(r)) for r in range(t.first(), t.end)]


class TestQuality(unittest.TestCase):
    def setUp(self):
        self.b = EnergyBench("quality")
        self.b.met.override = volts

    def tearDown(self):
        self.b.close()

    def test_events_records_and_counters(self):
        b = self.b
        seen = []
        m = b.meter
        m.on_second.append(
            lambda t: seen.append(bool(m.energy.status_bits()[0] & registers.SW_VOLTAGE_EVENT))
        )
        b.run(420)
        want = [
            (START + 10, 3, 6, 1800),
            (START + 30, 4, 3, 2600),
            (START + 50, 2, 10, 0),
            (START + 100, 1, 200, 0),
            (START + 400, 3, 2, 1400),
            (START + 402, 2, 3, 0),
        ]
        got = []
        for r in _records(m, registers.VOLTAGE_EVENTS):
            got.append(
                (
                    int.from_bytes(r[0:4], "big"),
                    r[4],
                    int.from_bytes(r[6:10], "big"),
                    r[10] << 8 | r[11],
                )
            )
            self.assertEqual(r[5], 1)  # phase
        self.assertEqual(got, want)
        ms = m.metering
        self.assertEqual(
            [
                ms.get(o, 2)
                for o in (mt.LONG_INTERRUPTIONS, mt.SHORT_INTERRUPTIONS, mt.SAGS, mt.SWELLS)
            ],
            [1, 2, 2, 1],
        )
        codes = [r[4] << 8 | r[5] for r in _records(m, registers.EVENT_LOG)]
        for code, n in (
            (events.VOLTAGE_SAG, 2),
            (events.VOLTAGE_SWELL, 1),
            (events.INTERRUPTION_SHORT, 2),
            (events.INTERRUPTION_LONG, 1),
        ):
            self.assertEqual(codes.count(code), n)
        # the status bit is set exactly in the seconds an event is open (booked second t - 1)
        expect = [volts(START + i)[2:] != (UN, UN, UN) for i in range(420)]
        self.assertEqual(seen, expect)

    def test_thresholds_follow_the_registers(self):
        b = self.b
        m = b.meter
        m.model.write(registers.find(0x0C03), bytes((70,)), log=False)  # sag below 161 V
        m.model.write(registers.find(0x0C05), (300).to_bytes(2, "big"), log=False)
        b.run(320)
        got = [
            (r[4], int.from_bytes(r[6:10], "big")) for r in _records(m, registers.VOLTAGE_EVENTS)
        ]
        # no sag at 180 V any more; the 200 s interruption is now short
        self.assertEqual(got, [(4, 3), (2, 10), (2, 200)])

    def test_sag_in_progress_at_a_supply_loss_is_closed_there(self):
        b = self.b
        m = b.meter
        m.on_second.append(lambda t: t == START + 12 and b.supply.pin.value(0))
        b.run(20)
        m2 = b.reboot(off_s=100)
        got = [
            (int.from_bytes(r[0:4], "big"), r[4], int.from_bytes(r[6:10], "big"))
            for r in _records(m2, registers.VOLTAGE_EVENTS)
        ]
        # the sag from START + 10 ends at the loss (START + 12); the outage (108 s: short) runs
        # to the boot
        self.assertEqual(got, [(START + 10, 3, 2), (START + 12, 2, 20 + 100 - 12)])
        self.assertEqual(m2.metering.get(mt.LAST_OUTAGE_S, 4), 108)
        self.assertEqual(m2.metering.get(mt.POWER_FAILS, 2), 1)


if __name__ == "__main__":
    unittest.main()
