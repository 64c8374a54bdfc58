"""unix_sim RTC: a settable wall clock, kept across restarts as an offset from the host clock.

Offers exactly the interfaces.Rtc duck type: seconds() and set(seconds), seconds since
2000-01-01 UTC.
"""

import time

# The unix port's time.time() counts from 1970; the RTC interface from 2000.
_EPOCH_2000 = 946684800


class SimRtc:
    def __init__(self, path=None):
        self._path = path
        self._offset = 0
        if path:
            try:
                with open(path) as f:
                    self._offset = int(f.read().strip() or 0)
            except (OSError, ValueError):
                self._offset = 0

    def seconds(self):
        """Seconds since 2000-01-01 00:00:00 UTC."""
        return int(time.time()) - _EPOCH_2000 + self._offset

    def set(self, seconds):
        self._offset = seconds - (int(time.time()) - _EPOCH_2000)
        if self._path:
            with open(self._path, "w") as f:
                f.write(str(self._offset))
