"""unix_sim push button: a LoopPin held high by its pull-up (pressed = low), as the board button
drivers.button.Button reads it. `press(ms)` holds it down for ms on the meter's clock, from a
test or the console (`meter.hw.button.pin.press(3000)` is a long press)."""

import asyncio

from drivers.sim.pin import LoopPin


class ButtonPin(LoopPin):
    def __init__(self, clock):
        super().__init__("button", 1)
        self._clock = clock

    def press(self, ms=100):
        self.value(0)
        asyncio.create_task(self._release(ms))

    async def _release(self, ms):
        await self._clock.sleep_ms(ms)
        self.value(1)
