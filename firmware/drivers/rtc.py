"""machine.RTC adapter: the interfaces.Rtc duck type (seconds()/set() since 2000-01-01 UTC)
over the port's datetime() 8-tuple (year, month, day, weekday, hour, minute, second, sub).

The weekday field differs per port (MicroPython 1c3c201):
- stm32 (ports/stm32/rtc.c, pyb_rtc_datetime): "weekday is 1-7 for Monday through Sunday"; the
  value is written to the RTC's WDU field as given, and 0 is a forbidden WDU code (RM0090
  26.6.2), so it must be computed: weekday_base=1.
- esp32 (ports/esp32/machine_rtc.c, machine_rtc_datetime_helper): reads tm_wday from
  shared/timeutils (0 = Monday, timeutils.c "Jan 1, 1970 was a Thursday (3)") and ignores the
  field when setting: weekday_base=0.
The sub-second field (stm32: microseconds from the sub-second register, esp32: tv_usec) is
dropped on reading and written as 0.
"""

import civiltime


class MachineRtc:
    def __init__(self, rtc, weekday_base):
        if weekday_base not in (0, 1):
            raise ValueError("weekday_base is 0 (esp32) or 1 (stm32)")
        self._rtc = rtc
        self._wd0 = weekday_base

    def seconds(self):
        t = self._rtc.datetime()
        return civiltime.seconds(t[0], t[1], t[2], t[4], t[5], t[6])

    def set(self, seconds):
        y, mo, d, h, mi, s, wd = civiltime.datetime(seconds)
        self._rtc.datetime((y, mo, d, wd + self._wd0, h, mi, s, 0))
