"""unix_sim RTC: a settable wall clock, kept across restarts as an offset from its time base.

Offers exactly the interfaces.Rtc duck type: seconds() and set(seconds), seconds since
2000-01-01 UTC. The time base is the host clock, or in simulated time (SimRtc(path, clock,
start)) `start` + clock.now_ms() // 1000, so the RTC follows drivers/sim/simclock.py.
"""

import time

# The unix port's time.time() counts from 1970; the RTC interface from 2000.
_EPOCH_2000 = 946684800


class SimRtc:
    def __init__(self, path=None, clock=None, start=0):
        self._path = path
        self._clock = clock
        self._start = start
        self._offset = 0
        if path:
            try:
                with open(path) as f:
                    self._offset = int(f.read().strip() or 0)
            except (OSError, ValueError):
                self._offset = 0

    def _base(self):
        if self._clock is not None:
            return self._start + self._clock.now_ms() // 1000
        return int(time.time()) - _EPOCH_2000

    def seconds(self):
        """Seconds since 2000-01-01 00:00:00 UTC."""
        return self._base() + self._offset

    def set(self, seconds):
        self._offset = seconds - self._base()
        if self._path:
            with open(self._path, "w") as f:
                f.write(str(self._offset))
