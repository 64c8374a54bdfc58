"""The firmware's calendar, tariffs, billing instants and maximum demand (run by MicroPython,
host_tests/py/tariff_worker.py) against independent references: CPython's zoneinfo for local
time, tools/tariff_ref.py (written from docs/tariffs.md only) for the rest."""

import json
import random
import subprocess
from datetime import datetime

import pytest

from tools import tariff_ref as ref
from tools.mpenv import HOST_TESTS, ROOT, micropython_exe, mp_env

# ARERA F1/F2/F3 (docs/tariffs.md §3.1) as programme 0 of plan 1; programme 1 = a summer
# variant (F1 08-20); plan 2 (contract 2) = two bands, programme 2, from 1 January.
ITALY = (
    "00000003 00070002 00080001 00130002 00170003 01000003 01070002 01170003 02000003"
    " 10000003 10070002 10080001 10140002 10170003 11000003 11070002 11170003 12000003"
    " 20000002 20080001 20140002 21000002 22000002"
).replace(" ", "")
SEASONS = "01010001 06010101 09010001 01010202"
HOLIDAYS = (
    "01010002 01060002 04190002 05010002 06020002 080f0002 0b010002 0c080002 0c190002"
    " 0c1a0002 04061a02 04051b02 0c180003 0c180d02"  # Easter Mon 2026, 2027; Dec 24 (13: 2013)
).replace(" ", "")
S = ref.to_s


def mp(mode, args):
    p = subprocess.run(
        [
            micropython_exe(),
            "-X",
            "heapsize=8M",
            str(HOST_TESTS / "py" / "tariff_worker.py"),
            mode,
        ],
        input=json.dumps(args),
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    return [line.split() for line in p.stdout.splitlines()]


@pytest.mark.parametrize(
    "off,names",
    [(60, ("Europe/Rome", "Europe/Madrid")), (0, ("Europe/Lisbon",)), (120, ("Europe/Helsinki",))],
)
def test_local_time_and_wall_to_utc_around_every_transition_2000_2099(off, names):
    rows = mp("zone", {"off": off, "y0": 2000, "y1": 2099})
    assert len(rows) == 100 * 2 * 101
    for name in names:
        z = ref.Zone(name)
        gaps = 0
        for r in rows:
            v = [int(x) for x in r]
            u, w, uw = v[0], v[9], v[10]
            assert tuple(v[1:8]) + (bool(v[8]),) == z.local(u), (name, r)
            wall = ref.from_s(w).replace(tzinfo=None)
            assert uw == z.wall_to_utc(wall), (name, r)
            gaps += z.local(uw)[3:5] != (wall.hour, wall.minute)
        assert gaps == 100 * 2  # 02:00 and 02:30 (local) are never shown, each March


def italy(**kw):
    a = {"off": 60, "weekly": ITALY, "seasons": SEASONS, "holidays": HOLIDAYS, "plan1": 1}
    a.update({"plan2": 0, "c2": 0})
    a.update(kw)
    return a


def reference(a):
    h = bytes.fromhex
    z = ref.Zone(ref.ZONES[a["off"]])
    return ref.Tariffs(
        z, h(a["weekly"]), h(a["seasons"]), h(a["holidays"]), a["plan1"], a["plan2"], a["c2"]
    )


@pytest.mark.parametrize("c2", [0, S(datetime(2026, 8, 12, 21, 17, 5, tzinfo=ref.EPOCH.tzinfo))])
def test_tariff_of_every_minute_of_2026_and_every_switch(c2):
    a = italy(plan2=2 if c2 else 0, c2=c2)
    a["s0"] = S(datetime(2025, 12, 31, 23, tzinfo=ref.EPOCH.tzinfo))
    a["s1"] = a["s0"] + 365 * 86400
    rows = mp("tariff", a)
    r = reference(a)
    changes = [(int(x[1]), int(x[2])) for x in rows if x[0] == "c"]
    want = []
    prev = None
    for u in range(a["s0"], a["s1"], 60):
        t = r.current(u)
        if t != prev:
            want.append((u, t))
            prev = t
    assert changes == want
    assert len(changes) > 800  # a real year of switching, not a constant
    chain = [(int(x[1]), int(x[2])) for x in rows if x[0] == "n"]
    u = a["s0"]
    for got in chain:
        nxt = r.next_switch(u)
        assert got == (nxt, r.current(nxt)), ref.from_s(u)
        u = nxt
    if c2:
        assert (c2, 2) in chain  # 23:17:05 CEST: plan 1 F3 -> plan 2 band 2, to the second
    rng = random.Random(11)
    c = reference(a)
    for _ in range(200):
        u = rng.randrange(a["s0"], a["s1"])
        assert c.current(u) == r.current(u)


def test_billing_instants_two_years():
    s0 = S(datetime(2026, 1, 1, tzinfo=ref.EPOCH.tzinfo))
    s1 = s0 + 2 * 365 * 86400
    sched = [[1, 1, 0], [1, 28, 23], [2, 15, 2], [2, 1, 6], [1, 31 - 3, 2]]
    rows = mp("billing", {"off": 60, "s0": s0, "s1": s1, "schedules": sched})
    z = ref.Zone("Europe/Rome")
    assert len(rows) == len(sched)
    for row, (mode, day, hour) in zip(rows, sched):
        got = [int(x) for x in row[3:]]
        assert got == ref.billing_instants(z, mode, day, hour, s0, s1), row[:3]
        assert len(got) in (24, 12)


@pytest.mark.parametrize("period_min,seed", [(15, 3), (60, 8)])
def test_max_demand_per_tariff_and_close_at_the_exact_second(period_min, seed):
    # 4 days from Thursday 2026-12-29 00:00 UTC, billing on the 1st at 00:00 local
    u0 = S(datetime(2026, 12, 29, tzinfo=ref.EPOCH.tzinfo))
    n = 4 * 86400
    a = italy(u0=u0, n=n, period_min=period_min, seed=seed, bday=1, bhour=0)
    rows = mp("demand", a)
    r = reference(a)
    powers = []
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        p = 200 + (x >> 8) % 3000
        powers.append(-p // 2 if (i // 3600) % 7 == 3 else p)
    close = r.zone.wall_to_utc(datetime(2027, 1, 1))
    k = close - u0
    recs = [[int(v) for v in x[1:]] for x in rows if x[0] == "rec"]
    assert [x[:2] for x in recs] == [[close, 1]]
    # energy of every second before the close, none after (stand-in engine, remainder carried)
    wh = {1: 0, 2: 0, 3: 0, 4: 0}
    rest = 0
    for i in range(k):
        if powers[i] > 0:
            q, rest = divmod(rest + powers[i], 3600)
            wh[r.current(u0 + i)] += q
    assert recs[0][2] == sum(wh.values())
    assert recs[0][4:8] == [wh[1], wh[2], wh[3], wh[4]]
    p = period_min * 60
    for part, fields in ((powers[:k], recs[0][8:16]), (powers[k:], None)):
        start = u0 if fields is not None else close
        per, tot = ref.max_demand(r, start, part, p)
        want = [v for t in (1, 2, 3, 4) for v in per.get(t, (0, 0))]
        if fields is None:  # the period after the close: the meter's live maxima
            fields = [int(v) for v in next(x for x in rows if x[0] == "md")[1:]]
            got_tot = [int(v) for v in next(x for x in rows if x[0] == "tot")[1:]]
            assert got_tot == list(tot)
        else:  # the closed period, Tue-Thu: all three bands had demand
            assert all(per.get(t) for t in (1, 2, 3))
        assert fields == want


def test_the_billing_data_set_example_of_the_doc():
    doc = (ROOT / "docs" / "tariffs.md").read_text()
    block = doc.split("Example: closed by the schedule")[1].split("```")[1]
    rec = bytes.fromhex(block.replace(" ", "").replace("\n", ""))
    want = {
        "time": S(datetime(2026, 12, 31, 23, tzinfo=ref.EPOCH.tzinfo)),
        "cause": 1,
        "a_plus_wh": 1234567,
        "a_minus_wh": 8901,
        "t1_wh": 400123,
        "t2_wh": 300456,
        "t3_wh": 533988,
        "t4_wh": 0,
        "max_demand": [(3120, 850126500), (2840, 850411800), (2210, 851716800), (0, 0)],
    }
    assert ref.billing_set(rec) == want
    args = {
        "time": want["time"],
        "cause": 1,
        "energies": [1234567, 8901, 400123, 300456, 533988, 0],
    }
    args["md"] = want["max_demand"]
    assert mp("record", args) == [[rec.hex()]]
