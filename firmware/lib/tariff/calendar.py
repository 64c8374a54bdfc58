"""The tariff calendar: which tariff (1..4) is in force at a UTC second (docs/tariffs.md).

Inputs (the data model's registers, see Tariffs below):
  weekly   0x0900 records PROG<<4|DAYTYPE, HOUR, MINUTE, TARIFF: switch points in local time
  seasons  0x0901 records MONTH, DAY, PROG, PLAN: from that date on, plan PLAN (0 = every
           plan) uses weekly programme PROG
  holidays 0x0A00 records MONTH, DAY, YEAR (0 every year, else year - 2000), DAYTYPE
  contract plans 0x0801 / 0x0811 and contract 2's start 0x0812: plan in force at a second;
           plan 0 = single rate (tariff 1, tables unused)
Precedence: a holiday sets the day type (else Mon-Fri 0, Saturday 1, Sunday 2); the season of
the plan selects the programme; the programme's points for that day type give the tariff.
A local day starts in tariff 1 unless it has a 00:00 point. Days are computed once into a list
of (UTC start, tariff) segments and cached (two days), so current() allocates nothing.
"""

import civiltime
from micropython import const

from tariff.zone import Zone

_DAY = const(86400)


def day_type(holidays, y, mo, d, wd):
    """Day type of a local date: a holiday record (one-off before every-year), else the week."""
    t = -1
    for i in range(0, len(holidays), 4):
        if holidays[i] == mo and holidays[i + 1] == d:
            yy = holidays[i + 2]
            if yy == y - 2000:
                return holidays[i + 3]
            if yy == 0 and t < 0:
                t = holidays[i + 3]
    if t >= 0:
        return t
    return 0 if wd < 5 else wd - 4


def season_prog(seasons, plan, mo, d):
    """Programme of a plan on a date: the season record (of that plan or of every plan) that
    started last, wrapping to the previous year's last one; ties go to the later record; no
    record at all: programme 0."""
    today = mo * 32 + d
    best = -1
    best_prog = 0
    last = -1
    last_prog = 0
    for i in range(0, len(seasons), 4):
        p = seasons[i + 3]
        if p and p != plan:
            continue
        k = seasons[i] * 32 + seasons[i + 1]
        if best <= k <= today:
            best = k
            best_prog = seasons[i + 2]
        if k >= last:
            last = k
            last_prog = seasons[i + 2]
    return best_prog if best >= 0 else last_prog


def points(weekly, prog, dtype):
    """Switch points [(minute of the day, tariff)] of a programme's day type, in time order;
    of two points at the same minute the later record wins."""
    sel = prog << 4 | dtype
    keyed = []
    n = 0
    for i in range(0, len(weekly), 4):
        if weekly[i] == sel:
            keyed.append(((weekly[i + 1] * 60 + weekly[i + 2]) * 256 + n, weekly[i + 3]))
        n += 1
    keyed.sort()
    out = []
    for k, t in keyed:
        m = k >> 8
        if out and out[-1][0] == m:
            out[-1] = (m, t)
        else:
            out.append((m, t))
    return out


class Calendar:
    def __init__(self):
        self.zone = Zone()
        self.weekly = b""
        self.seasons = b""
        self.holidays = b""
        self.plan1 = 0
        self.plan2 = 0
        self.c2 = 0
        self._days = [None, None]  # (start, end, plan, [s0, t0, s1, t1, ...]), newest first
        self.builds = 0  # days computed (a cache that works keeps this small)

    def configure(self, off_min, dst, weekly, seasons, holidays, plan1, plan2=0, c2=0):
        """Set every input at once; c2 = contract 2's start (UTC, 0 none)."""
        self.zone = Zone(off_min, dst)
        self.weekly = bytes(weekly)
        self.seasons = bytes(seasons)
        self.holidays = bytes(holidays)
        self.plan1 = plan1
        self.plan2 = plan2
        self.c2 = c2
        self._days[0] = None
        self._days[1] = None

    def plan(self, u):
        return self.plan2 if self.c2 and u >= self.c2 else self.plan1

    def _build(self, u, plan):
        z = self.zone
        w = z.wall(u)
        w0 = max(0, w - w % _DAY)  # an unset clock west of UTC: 2000-01-01's programme
        f = civiltime.datetime(w0)
        ds = z.utc(w0)
        de = z.utc(w0 + _DAY)
        segs = [ds, 1]
        if plan:
            dt = day_type(self.holidays, f[0], f[1], f[2], f[6])
            prog = season_prog(self.seasons, plan, f[1], f[2])
            for m, t in points(self.weekly, prog, dt):
                s = z.utc(w0 + m * 60)
                if s <= segs[-2]:  # 00:00, or two points folded into one by the March gap
                    segs[-1] = t
                else:
                    segs.append(s)
                    segs.append(t)
        self.builds += 1
        return (ds, de, plan, segs)

    def _day(self, u):
        p = self.plan(u)
        ds = self._days
        e = ds[0]
        if e is not None and e[2] == p and e[0] <= u < e[1]:
            return e
        e = ds[1]
        if e is None or e[2] != p or not e[0] <= u < e[1]:
            e = self._build(u, p)
        ds[1] = ds[0]
        ds[0] = e
        return e

    def current(self, u):
        """Tariff 1..4 in force during UTC second u."""
        segs = self._day(u)[3]
        t = segs[1]
        for i in range(2, len(segs), 2):
            if segs[i] > u:
                break
            t = segs[i + 1]
        return t

    def next_switch(self, u):
        """The first UTC second after u in a different tariff, or u + 1 day when none is due
        within a day."""
        t0 = self.current(u)
        lim = u + _DAY
        x = u
        while x < lim:
            e = self._day(x)
            b = e[1]
            segs = e[3]
            for i in range(2, len(segs), 2):
                if segs[i] > x:
                    b = segs[i]
                    break
            if x < self.c2 < b:
                b = self.c2
            if b <= x:  # a local midnight inside a repeated hour (offsets west of UTC-1)
                b = x + 1
            if b >= lim:
                break
            if self.current(b) != t0:
                return b
            x = b
        return lim

    def local(self, u):
        return self.zone.local(u)
