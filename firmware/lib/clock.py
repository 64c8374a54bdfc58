"""Injectable clocks. Library code never reads the time itself: it takes `now_ms` or a clock.

`now_ms()` is monotonic and does not wrap (the port's ticks_ms wraps after 2**30 ms, about
12.4 days; we accumulate ticks_diff instead). Past 2**30 ms of uptime the value becomes a long
int on 32-bit ports: every call, and every sum with it, then allocates (about 22 calls per
metering second on a meter with every feature, docs/metering.md §9).
"""

import asyncio
import time


class Clock:
    """Real time from the port's tick counter."""

    def __init__(self):
        self._last = time.ticks_ms()
        self._now = 0

    def now_ms(self):
        t = time.ticks_ms()
        self._now += time.ticks_diff(t, self._last)
        self._last = t
        return self._now

    def sleep_ms(self, ms):
        # not `async def`: asyncio.sleep_ms returns the loop's one preallocated awaitable, so
        # `await clock.sleep_ms(ms)` allocates nothing, where a coroutine wrapper costs one
        # object per sleep (96 B on the unix port; docs/metering.md §9)
        return asyncio.sleep_ms(ms if ms > 0 else 0)


class ManualClock:
    """Simulated time for tests and the simulated network: time moves only when told to."""

    def __init__(self, start_ms=0):
        self._now = start_ms
        self._sleepers = []  # [deadline, asyncio.Event]

    def now_ms(self):
        return self._now

    def set(self, now_ms):
        """Move time forward to now_ms (never backwards) and wake the sleepers now due."""
        if now_ms > self._now:
            self._now = now_ms
        keep = []
        for entry in self._sleepers:
            if entry[0] <= self._now:
                entry[1].set()
            else:
                keep.append(entry)
        self._sleepers = keep

    def advance(self, ms):
        self.set(self._now + ms)

    def next_wakeup(self):
        """Earliest deadline any task sleeps until, or None."""
        best = None
        for deadline, _ in self._sleepers:
            if best is None or deadline < best:
                best = deadline
        return best

    async def sleep_ms(self, ms):
        if ms <= 0:
            await asyncio.sleep_ms(0)
            return
        entry = [self._now + ms, asyncio.Event()]
        self._sleepers.append(entry)
        try:
            await entry[1].wait()
        finally:
            # a cancelled sleeper leaves, so next_wakeup() names only deadlines still awaited
            try:
                self._sleepers.remove(entry)
            except ValueError:
                pass


async def wait_or_timeout(event, clock, ms):
    """Return when event is set or ms have passed on clock, whichever comes first."""
    if ms <= 0:
        return

    async def timer():
        await clock.sleep_ms(ms)
        event.set()

    t = asyncio.create_task(timer())
    try:
        await event.wait()
    finally:
        if not t.done():
            t.cancel()
