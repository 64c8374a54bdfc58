"""unix_sim simulated time: a ManualClock that drives itself (docs/simulation.md §9).

    clock = SimClock(until_ms=None)      # hw.clock; the RTC follows it (drivers/sim/rtc.py)

Discrete-event time for one meter without the medium: whenever no task is ready to run (the
loop's run queue holds nothing due), the clock jumps to the earliest deadline a task sleeps
until (`next_wakeup()`), so the meter's periodic work (metering second, profiles, tariffs,
MAC deadlines) runs back to back and a simulated week takes minutes. From `until_ms` on (None:
never), time follows the host's clock instead, so a concentrator can talk to the meter at the
end of a fast-forward. The driving task starts with the first sleep on this clock.
Only work that sleeps on this clock is accelerated: a task on asyncio.sleep_ms (the
watchdog feeder) keeps host time and never counts as ready while it waits.
"""

import asyncio
import time

from clock import ManualClock
from micropython import const

try:  # the loop's run queue, to tell "nothing is ready to run"
    from asyncio import core as _core

    _TQ = _core._task_queue
except (ImportError, AttributeError):
    _TQ = None

_IDLE_POLL_MS = const(5)  # host time between looks when nothing sleeps on this clock
_MAX_YIELDS = const(1000)  # yields before a jump, at most, while tasks keep being ready


def _busy():
    head = _TQ.peek()
    return head is not None and time.ticks_diff(head.ph_key, time.ticks_ms()) <= 0


class SimClock(ManualClock):
    def __init__(self, until_ms=None):
        ManualClock.__init__(self, 0)
        self.until_ms = until_ms
        self.jumps = 0  # times the clock moved to a wakeup
        self._driver = None

    async def sleep_ms(self, ms):
        if self._driver is None:
            self._driver = asyncio.create_task(self._drive())
        await ManualClock.sleep_ms(self, ms)

    async def _settle(self):
        # let every task the last jump woke run until they all wait again
        for _ in range(_MAX_YIELDS):
            await asyncio.sleep_ms(0)
            if _TQ is not None and not _busy():
                return

    async def _drive(self):
        while self.until_ms is None or self._now < self.until_ms:
            await self._settle()
            nxt = self.next_wakeup()
            if nxt is None:
                await asyncio.sleep_ms(_IDLE_POLL_MS)  # only I/O can wake anybody
                continue
            if self.until_ms is not None and nxt > self.until_ms:
                nxt = self.until_ms
            self.jumps += 1
            self.set(nxt)
        base = self._now
        t0 = time.ticks_ms()
        while True:  # real time from here on
            nxt = self.next_wakeup()
            wait = _IDLE_POLL_MS if nxt is None else min(max(0, nxt - self._now), 50)
            await asyncio.sleep_ms(wait)
            self.set(base + time.ticks_diff(time.ticks_ms(), t0))
