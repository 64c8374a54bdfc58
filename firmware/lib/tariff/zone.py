"""Local civil time from UTC: a fixed standard offset plus the EU summer-time rule.

EU rule (Directive 2000/84/EC): summer time runs from 01:00 UTC on the last Sunday of March to
01:00 UTC on the last Sunday of October, in every zone at the same instant; it adds one hour.
"Wall time" below is the local civil time written as seconds since 2000-01-01 00:00 (as if it
were UTC), so civiltime.datetime() turns it into fields. Integer only; valid 2000..2099+.
"""

import civiltime
from micropython import const

_H = const(3600)
_DAY = const(86400)


def last_sunday(y, month):
    """UTC seconds of 01:00 UTC on the last Sunday of a 31-day month (March, October)."""
    s = civiltime.seconds(y, month, 31, 1)
    wd = (s // _DAY + 5) % 7  # Monday = 0; 2000-01-01 was a Saturday
    return s - ((wd + 1) % 7) * _DAY


class Zone:
    """off_min: local standard time - UTC in minutes (register 0x0101); dst: 1 = EU rule
    (register 0x0102), 0 = no summer time."""

    def __init__(self, off_min=60, dst=1):
        self.off = off_min * 60
        self.dst = dst
        self._y0 = 1  # UTC year range [_y0, _y1) whose summer time [_a, _b) is cached
        self._y1 = 0
        self._a = 0
        self._b = 0

    def _year(self, u):
        y = civiltime.datetime(u)[0]  # u >= 0: is_dst() answers for u < 0 itself
        self._y0 = civiltime.seconds(y, 1, 1)
        self._y1 = civiltime.seconds(y + 1, 1, 1)
        self._a = last_sunday(y, 3)
        self._b = last_sunday(y, 10)

    def is_dst(self, u):
        if not self.dst or u < 0:  # before 2000 only west of UTC, with the clock not set
            return False
        if not self._y0 <= u < self._y1:
            self._year(u)
        return self._a <= u < self._b

    def wall(self, u):
        """Local wall time of UTC second u."""
        return u + self.off + (_H if self.is_dst(u) else 0)

    def utc(self, w):
        """The first UTC second at which the local clock shows wall time w or later: in the
        repeated October hour that is the first (summer-time) pass; a wall time inside the
        skipped March hour maps to the instant summer time starts."""
        u = w - self.off - _H
        if self.is_dst(u):
            return u
        u = w - self.off
        if not self.is_dst(u):
            return u
        return self._a  # in the gap: u's year is cached, its summer time starts in (u - 1 h, u]

    def local(self, u):
        """(year, month, day, hour, minute, second, weekday Monday=0, is_dst) of UTC second u."""
        d = self.is_dst(u)
        f = civiltime.datetime(max(0, u + self.off + (_H if d else 0)))  # unset clock west of UTC
        return (f[0], f[1], f[2], f[3], f[4], f[5], f[6], d)
