"""UTC calendar arithmetic on seconds since 2000-01-01 00:00:00 (the RTC interface's epoch).

Integer only (no floats, no port time module), valid for 2000..2099 and beyond: the Gregorian
leap rule is complete (every 4th year, not every 100th, again every 400th).
Weekdays count from Monday = 0, as ISO 8601 and ESP32's machine.RTC do.
"""

from micropython import const

_DAY = const(86400)
# days before each month in a non-leap year
_CUM = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_WD_2000 = const(5)  # 2000-01-01 was a Saturday (Monday = 0)


def _leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def _days_before_year(y):
    # days from 2000-01-01 to y-01-01 (y >= 2000)
    n = y - 2000
    return 365 * n + (n + 3) // 4 - (n + 99) // 100 + (n + 399) // 400


def seconds(year, month, day, hour=0, minute=0, second=0):
    """Seconds since 2000-01-01 00:00:00 UTC of a UTC date and time (year >= 2000)."""
    if year < 2000 or not 1 <= month <= 12 or not 1 <= day <= 31:
        raise ValueError("date")
    d = _days_before_year(year) + _CUM[month - 1] + day - 1
    if month > 2 and _leap(year):
        d += 1
    return d * _DAY + hour * 3600 + minute * 60 + second


def datetime(s):
    """(year, month, day, hour, minute, second, weekday Monday=0) of seconds since 2000."""
    if s < 0:
        raise ValueError("before 2000")
    days, rem = divmod(s, _DAY)
    wd = (days + _WD_2000) % 7
    y = 2000 + days // 366  # an underestimate, then step up
    while _days_before_year(y + 1) <= days:
        y += 1
    doy = days - _days_before_year(y)
    leap = 1 if _leap(y) else 0
    m = 12
    while m > 1 and doy < _CUM[m - 1] + (leap if m > 2 else 0):
        m -= 1
    day = doy - _CUM[m - 1] - (leap if m > 2 else 0) + 1
    return (y, m, day, rem // 3600, rem // 60 % 60, rem % 60, wd)
