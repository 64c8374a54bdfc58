"""A ManualClock whose sleepers move time on themselves: for a single task talking to a
simulated peripheral that answers at once, so bounded waits end without a second task."""

import asyncio

from clock import ManualClock


class JumpClock(ManualClock):
    async def sleep_ms(self, ms):
        self.advance(max(ms, 0))
        await asyncio.sleep_ms(0)
