"""MicroPython side of host_tests/py/test_tariff_ref.py: runs the firmware's calendar and
billing and prints what it computes, one fact per line. Usage: micropython tariff_worker.py
MODE, with a JSON object on stdin (see each mode)."""

import json
import struct
import sys

from tariff.calendar import Calendar
from tariff.zone import Zone, last_sunday


def zone_mode(a):
    # local time and wall->UTC every 30 min from 25 h before to 25 h after each transition
    z = Zone(a["off"], 1)
    off = a["off"] * 60
    for y in range(a["y0"], a["y1"] + 1):
        for t in (last_sunday(y, 3), last_sunday(y, 10)):
            for k in range(-50, 51):
                u = t + k * 1800
                f = z.local(u)
                w = t + off + k * 1800
                print(u, *f[:7], int(f[7]), w, z.utc(w))


def calendar(a):
    c = Calendar()
    h = bytes.fromhex
    c.configure(a["off"], 1, h(a["weekly"]), h(a["seasons"]), h(a["holidays"]),
                a["plan1"], a["plan2"], a["c2"])  # fmt: skip
    return c


def tariff_mode(a):
    c = calendar(a)
    prev = None
    for u in range(a["s0"], a["s1"], 60):
        t = c.current(u)
        if t != prev:
            print("c", u, t)
            prev = t
    u = a["s0"]
    while u < a["s1"]:
        u = c.next_switch(u)
        print("n", u, c.current(u))


def demand_mode(a):
    import alfix
    from datamodel import metering as mt

    b = alfix.Bench("tariff_ref")
    try:
        m = b.meter
        md = m.model
        h = bytes.fromhex
        md.set_table(0x0900, h(a["weekly"]))
        md.set_table(0x0901, h(a["seasons"]))
        md.set_table(0x0A00, h(a["holidays"]))
        md.set_ints(((0x0801, a["plan1"]),))
        md.set_ints(((0x0600, 1), (0x0601, a["bday"]), (0x0602, a["bhour"])))
        md.set_ints(((0x1602, a["period_min"]),))
        wh = [0, 0, 0, 0]
        rest = 0
        x = a["seed"]
        u0 = a["u0"]
        for i in range(a["n"]):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            p = 200 + (x >> 8) % 3000
            if (i // 3600) % 7 == 3:
                p = -p // 2
            m.metering.set(mt.POWER, 4, p)
            if p > 0:
                q, rest = divmod(rest + p, 3600)
                wh[m.tariffs.current(u0 + i) - 1] += q
            m.metering.set(mt.ACTIVE_IMPORT, 4, sum(wh))
            for t in range(4):
                m.metering.set(mt.IMPORT_T1 + 4 * t, 4, wh[t])
            u = u0 + i + 1
            b.rtc.t = u
            for fn in m.on_second:
                fn(u)
        t = md.tables[0x1400]
        for r in range(t.first(), t.end):
            print("rec", *struct.unpack(">IBIIIIII" + "II" * 4, bytes(t.record(r))))
        bl = m.billing
        print("md", *[v for i in range(4) for v in (bl.md_w[i], bl.md_t[i])])
        print("tot", md.get_int(0x1600), md.get_int(0x1601))
    finally:
        b.close()


def billing_mode(a):
    # the chain of scheduled instants, through the firmware's next_close
    import alfix

    b = alfix.Bench("tariff_ref_b")
    try:
        m = b.meter
        m.model.set_ints(((0x0101, a["off"]),))
        for mode, day, hour in a["schedules"]:
            m.model.set_ints(((0x0600, mode), (0x0601, day), (0x0602, hour)))
            u = a["s0"]
            out = []
            while True:
                u = m.billing.next_close(u)
                if u > a["s1"]:
                    break
                out.append(u)
            print(mode, day, hour, *out)
    finally:
        b.close()


def record_mode(a):
    # the firmware's billing data set for given register values and maxima
    import alfix
    from datamodel import metering as mt

    b = alfix.Bench("tariff_ref_r")
    try:
        m = b.meter
        offs = (mt.ACTIVE_IMPORT, mt.ACTIVE_EXPORT, mt.IMPORT_T1, mt.IMPORT_T2, mt.IMPORT_T3)
        for off, v in zip(offs + (mt.IMPORT_T4,), a["energies"]):
            m.metering.set(off, 4, v)
        for i, (w, t) in enumerate(a["md"]):
            m.billing.md_w[i] = w
            m.billing.md_t[i] = t
        print(m.billing.record(a["time"], a["cause"]).hex())
    finally:
        b.close()


MODES = {
    "zone": zone_mode,
    "tariff": tariff_mode,
    "demand": demand_mode,
    "billing": billing_mode,
    "record": record_mode,
}
MODES[sys.argv[1]](json.loads(sys.stdin.read()))
