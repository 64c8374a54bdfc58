"""The meter's wall clock: UTC seconds since 2000-01-01 00:00:00 over the board's RTC.

Every feature that needs the date or time (event stamps, billing, profiles, tariffs, clock
synchronisation) reads it here, never the RTC directly, so that setting the clock has one path.
`rtc` is the BRIEF's RTC interface: rtc.seconds() and rtc.set(seconds). Without an RTC the clock
runs from the monotonic `clock.now_ms()` and starts at 0 (not valid until set).
"""

from micropython import const

VALID_FROM = const(631152000)  # 2020-01-01: an earlier reading means nobody set the clock


class _NoRtc:
    def __init__(self, clock):
        self._clock = clock
        self._base = 0
        self._at = clock.now_ms() if clock is not None else 0

    def seconds(self):
        if self._clock is None:
            return self._base
        return self._base + (self._clock.now_ms() - self._at) // 1000

    def set(self, seconds):
        self._base = seconds
        self._at = self._clock.now_ms() if self._clock is not None else 0


class WallClock:
    def __init__(self, rtc=None, clock=None):
        self.rtc = rtc if rtc is not None else _NoRtc(clock)
        self.synced = False  # set or adjusted by the concentrator since this boot
        self.steps = 0

    def now(self):
        return self.rtc.seconds()

    def valid(self):
        return self.rtc.seconds() >= VALID_FROM

    def set(self, seconds):
        """Set the time; returns the step taken (new - old) in seconds."""
        old = self.rtc.seconds()
        self.rtc.set(seconds)
        self.synced = True
        self.steps += 1
        return seconds - old
