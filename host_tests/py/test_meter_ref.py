"""tools/meter_ref.py (sim-week's independent reference) against the worked examples of
docs/tariffs.md and zoneinfo: it must be right before it may judge the meter."""

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from tools import meter_ref as mr
from tools import sim_week

E = mr.EPOCH_2000
ITALY = sim_week.PROGRAMME  # docs/tariffs.md §3.1
HOLIDAYS = sim_week.HOLIDAYS + [(4, 6, 26, 2)]  # and Easter Monday 2026


def u(s):
    return int(dt.datetime.fromisoformat(s).replace(tzinfo=dt.timezone.utc).timestamp()) - E


def test_local_time_matches_zoneinfo_around_2026_changes():
    rome = ZoneInfo("Europe/Rome")
    for t in range(u("2026-03-28 12:00"), u("2026-03-30 00:00"), 600):
        want = dt.datetime.fromtimestamp(t + E, rome).replace(tzinfo=None)
        assert mr.local(t) == want
    for t in range(u("2026-10-24 12:00"), u("2026-10-26 00:00"), 600):
        want = dt.datetime.fromtimestamp(t + E, rome).replace(tzinfo=None)
        assert mr.local(t) == want
    assert mr.local_midnights(u("2026-10-24 12:00"), u("2026-10-26 12:00")) == [
        u("2026-10-24 22:00"),
        u("2026-10-25 23:00"),
    ]


def test_tariff_worked_examples():
    tr = mr.TariffRef(ITALY, [(1, 1, 0, 0)], HOLIDAYS, plan=1)
    assert tr.segments(dt.date(2026, 12, 7)) == [
        (u("2026-12-06 23:00"), 3),  # the day starts with its 00:00 point
        (u("2026-12-07 06:00"), 2),
        (u("2026-12-07 07:00"), 1),
        (u("2026-12-07 18:00"), 2),
        (u("2026-12-07 22:00"), 3),
    ]
    assert [t for _, t in tr.segments(dt.date(2026, 7, 11))] == [3, 2, 3]
    assert tr.segments(dt.date(2026, 7, 11))[1][0] == u("2026-07-11 05:00")
    assert tr.segments(dt.date(2026, 10, 23))[2] == (u("2026-10-23 06:00"), 1)
    t = np.array([849960000, 849981599, 849981600])
    assert list(tr.tariff_of(t)) == [1, 1, 2]  # next_switch example of §3.1
    assert tr.segments(dt.date(2026, 12, 8)) == [(u("2026-12-07 23:00"), 3)]  # holiday


def test_march_gap_and_october_repeat():
    tr = mr.TariffRef([(0x02, 0, 0, 1), (0x02, 2, 30, 2)], [], [], plan=1)
    assert tr.segments(dt.date(2026, 3, 29))[1] == (u("2026-03-29 01:00"), 2)
    assert tr.segments(dt.date(2026, 10, 25))[1] == (u("2026-10-25 00:30"), 2)
    assert tr.wall_to_utc(u("2026-10-25 02:30")) == u("2026-10-25 00:30")
