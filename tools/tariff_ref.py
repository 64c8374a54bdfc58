"""Independent reference for docs/tariffs.md, written from that document only (shares no code
with firmware/lib/tariff): local time from CPython's zoneinfo, calendar from datetime.

Used by host_tests/py/test_tariff_ref.py to check the firmware's calendar, tariff selection,
billing instants and maximum demand per tariff.
"""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
ZONES = {60: "Europe/Rome", 0: "Europe/Lisbon", 120: "Europe/Helsinki"}


def to_s(dt):
    return int((dt - EPOCH).total_seconds())


def from_s(s):
    return EPOCH + timedelta(seconds=s)


class Zone:
    """Local time of an EU zone through zoneinfo (offset in minutes: 0, 60 or 120)."""

    def __init__(self, name):
        self.tz = ZoneInfo(name)

    def local(self, s):
        d = from_s(s).astimezone(self.tz)
        return (d.year, d.month, d.day, d.hour, d.minute, d.second, d.weekday(), bool(d.dst()))

    def wall_to_utc(self, wall):
        """First UTC second whose local clock shows the naive datetime `wall` or later."""
        hits = []
        for fold in (0, 1):
            s = to_s(wall.replace(tzinfo=self.tz, fold=fold))
            if from_s(s).astimezone(self.tz).replace(tzinfo=None) == wall:
                hits.append(s)
        if hits:
            return min(hits)
        # not shown (spring gap): the first second shown later than `wall`
        lo = to_s(wall.replace(tzinfo=timezone.utc)) - 4 * 3600
        hi = lo + 8 * 3600
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if from_s(mid).astimezone(self.tz).replace(tzinfo=None) >= wall:
                hi = mid
            else:
                lo = mid
        return hi


def recs(b):
    return [tuple(b[i : i + 4]) for i in range(0, len(b), 4)]


class Tariffs:
    """docs/tariffs.md §2-§3 over a zoneinfo zone."""

    def __init__(self, zone, weekly, seasons, holidays, plan1, plan2=0, c2=0):
        self.zone = zone
        self.weekly = recs(weekly)
        self.seasons = recs(seasons)
        self.holidays = recs(holidays)
        self.plan1, self.plan2, self.c2 = plan1, plan2, c2
        self._days = {}

    def plan_at(self, s):
        return self.plan2 if self.c2 and s >= self.c2 else self.plan1

    def day_type(self, d):
        one_off = [
            h[3] for h in self.holidays if (h[0], h[1], h[2]) == (d.month, d.day, d.year - 2000)
        ]
        if one_off:
            return one_off[0]
        yearly = [h[3] for h in self.holidays if (h[0], h[1], h[2]) == (d.month, d.day, 0)]
        if yearly:
            return yearly[0]
        return {5: 1, 6: 2}.get(d.weekday(), 0)

    def programme(self, plan, d):
        mine = [(r[0], r[1], i, r[2]) for i, r in enumerate(self.seasons) if r[3] in (0, plan)]
        if not mine:
            return 0
        started = [m for m in mine if (m[0], m[1]) <= (d.month, d.day)]
        return max(started or mine)[3]

    def day(self, d, plan):
        """[(utc start, tariff)] of local date d under a plan, and the day's end."""
        key = (d, plan)
        if key not in self._days:
            start = self.zone.wall_to_utc(datetime(d.year, d.month, d.day))
            nd = d + timedelta(days=1)
            end = self.zone.wall_to_utc(datetime(nd.year, nd.month, nd.day))
            segs = [(start, 1)]
            if plan:
                sel = self.programme(plan, d) * 16 + self.day_type(d)
                pts = {}
                for r in self.weekly:  # later records overwrite earlier ones at the same minute
                    if r[0] == sel:
                        pts[r[1] * 60 + r[2]] = r[3]
                for minute in sorted(pts):
                    wall = datetime(d.year, d.month, d.day) + timedelta(minutes=minute)
                    segs.append((self.zone.wall_to_utc(wall), pts[minute]))
            self._days[key] = (segs, end)
        return self._days[key]

    def local_date(self, s):
        y, m, dd = self.zone.local(s)[:3]
        return date(y, m, dd)

    def current(self, s):
        segs, _ = self.day(self.local_date(s), self.plan_at(s))
        t = 1
        for start, tariff in segs:
            if start <= s:
                t = tariff
        return t

    def candidates(self, s0, s1):
        """Every second in (s0, s1] at which the tariff may change."""
        out = set()
        d = self.local_date(s0) - timedelta(days=1)
        while True:
            for plan in {self.plan1, self.plan2}:
                segs, end = self.day(d, plan)
                out.update(x for x, _ in segs)
                out.add(end)
            if self.day(d, self.plan1)[1] > s1:
                break
            d += timedelta(days=1)
        if self.c2:
            out.add(self.c2)
        return sorted(x for x in out if s0 < x <= s1)

    def next_switch(self, s):
        t0 = self.current(s)
        for x in self.candidates(s, s + 86400):
            if self.current(x) != t0:
                return x
        return s + 86400


def billing_instants(zone, mode, day, hour, after, until):
    """Scheduled closes (docs/tariffs.md §5) in (after, until]."""
    out = []
    d = zone.local(after)
    y, m = d[0], d[1]
    while True:
        if mode == 1 or (mode == 2 and m in (1, 3, 5, 7, 9, 11)):
            s = zone.wall_to_utc(datetime(y, m, day, hour))
            if s > until:
                return out
            if s > after:
                out.append(s)
        m += 1
        if m == 13:
            y, m = y + 1, 1


def max_demand(tariffs, u0, powers, period_s):
    """Block maximum demand per tariff and total (docs/tariffs.md §6) of powers[i] = import W
    of second [u0 + i, u0 + i + 1); blocks whole only. -> ({tariff: (W, end)}, (W, end))."""
    per = {}
    tot = (0, 0)
    acc = {}
    for i, p in enumerate(powers):
        s = u0 + i
        k = s // period_s
        acc.setdefault(k, {})
        t = tariffs.current(s)
        acc[k][t] = acc[k].get(t, 0) + max(p, 0)
    for k in sorted(acc):
        end = (k + 1) * period_s
        for t, ws in acc[k].items():
            w = ws // period_s
            if w > per.get(t, (0, 0))[0]:
                per[t] = (w, end)
        w = sum(acc[k].values()) // period_s
        if w > tot[0]:
            tot = (w, end)
    return per, tot


BILLING_FIELDS = ("time", "cause", "a_plus_wh", "a_minus_wh", "t1_wh", "t2_wh", "t3_wh", "t4_wh")


def billing_set(rec):
    """A 61-byte billing data set (docs/tariffs.md §7) as a dict; max demand as a list of
    (W, block end) for tariffs 1..4."""
    if len(rec) != 61:
        raise ValueError("billing data set is 61 bytes")
    out = dict(zip(BILLING_FIELDS, [int.from_bytes(rec[0:4], "big"), rec[4]]))
    for i, name in enumerate(BILLING_FIELDS[2:]):
        out[name] = int.from_bytes(rec[5 + 4 * i : 9 + 4 * i], "big")
    out["max_demand"] = [
        (
            int.from_bytes(rec[29 + 8 * i : 33 + 8 * i], "big"),
            int.from_bytes(rec[33 + 8 * i : 37 + 8 * i], "big"),
        )
        for i in range(4)
    ]
    return out
