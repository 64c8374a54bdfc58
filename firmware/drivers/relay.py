"""Bistable (latching) cut-off relay (interfaces.Relay): one coil pulse sets, the other resets;
an optional auxiliary contact reads the real position back so a welded or stuck contact shows.

Nothing here blocks the loop: open()/close() record the wanted position and return; one task
pulses the coil (pin high, `pulse_ms` on the injected clock, pin low). Coil protection: two
pulses are at least `min_gap_ms` apart (end of one to start of the next; the coil and its
driver cool down, and a chattering command source cannot cook them); requests inside the gap
wait, and only the latest wanted position is pulsed. A pin is always released, even if the
task is cancelled mid-pulse.
"""

import asyncio


class LatchingRelay:
    def __init__(
        self, set_pin, reset_pin, pulse_ms=50, sense_pin=None, clock=None, min_gap_ms=1000
    ):
        if clock is None:
            from clock import Clock

            clock = Clock()
        self._set = set_pin
        self._reset = reset_pin
        self._sense = sense_pin
        self._clock = clock
        self.pulse_ms = pulse_ms
        self.min_gap_ms = min_gap_ms
        self._commanded = None  # position of the last completed pulse
        self._want = None  # position requested and not yet pulsed
        self._last_end = None  # clock time the last pulse ended
        self._task = None
        self.operations = 0  # pulses completed
        self.deferred = 0  # requests that had to wait for the coil's minimum interval
        self.failures = 0  # pulses after which the sense contact disagreed
        set_pin.value(0)
        reset_pin.value(0)

    def close(self):
        """Connect the load (coil pulse on the set side), as soon as the coil may."""
        self._request(True)

    def open(self):
        """Cut the load off."""
        self._request(False)

    def _request(self, closed):
        self._want = closed
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def _run(self):
        clock = self._clock
        try:
            while self._want is not None:
                if self._last_end is not None:
                    wait = self._last_end + self.min_gap_ms - clock.now_ms()
                    if wait > 0:
                        self.deferred += 1
                        await clock.sleep_ms(wait)
                want = self._want
                self._want = None
                pin = self._set if want else self._reset
                pin.value(1)
                try:
                    await clock.sleep_ms(self.pulse_ms)
                finally:
                    pin.value(0)
                    self._last_end = clock.now_ms()
                self._commanded = want
                self.operations += 1
                if self._sense is not None and bool(self._sense.value()) != want:
                    self.failures += 1  # position feedback: the contact did not follow
        finally:
            self._task = None

    def busy(self):
        return self._task is not None

    async def settle(self):
        """Until no pulse runs or waits."""
        while self._task is not None:
            await self._task

    def state(self):
        """True closed, False open, None unknown (never commanded and no sense contact)."""
        if self._sense is not None:
            return bool(self._sense.value())
        return self._commanded

    def fault(self):
        """True when the sense contact disagrees with the last completed command (while idle)."""
        if self._sense is None or self._commanded is None or self._task is not None:
            return False
        return bool(self._sense.value()) != self._commanded
