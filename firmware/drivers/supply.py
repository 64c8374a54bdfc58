"""Supply-loss input (interfaces.Supply): a pin that goes low when the mains supervisor sees the
supply fail, early enough to save state on the hold-up capacitor.

    sup = SupplyInput(machine.Pin("PF14", machine.Pin.IN, machine.Pin.PULL_UP))
    await sup.wait_loss()      # then save what must survive

The edge interrupt (machine.Pin.irq(handler, trigger=Pin.IRQ_FALLING), same signature on stm32
and esp32, docs/library/machine.Pin.rst) only counts and sets a ThreadSafeFlag: no allocation,
valid as a hard or soft handler. unix_sim passes a drivers.sim.pin.SimPin, whose irq() calls the
handler on the same edge, so the code path is the board's.
"""

import asyncio


class SupplyInput:
    def __init__(self, pin, active_low=True, event=False):
        """event=True (unix_sim): an asyncio.Event instead of the ThreadSafeFlag. The unix port
        has no descriptor for a ThreadSafeFlag, so while one is awaited every turn of the
        asyncio loop polls for >= 1 ms (micropython PR andrewleech#53), which made simulated
        time 30 x slower; SimPin calls the handler in the loop's own thread, so an Event is
        safe there."""
        self.pin = pin  # on unix_sim a SimPin: pin.value(0) cuts the simulated mains
        self._ok = 1 if active_low else 0
        self.losses = 0
        self._event = event
        self._flag = asyncio.Event() if event else asyncio.ThreadSafeFlag()
        self._isr_ref = self._isr  # bound once: no allocation per interrupt
        trig = pin.IRQ_FALLING if active_low else pin.IRQ_RISING
        pin.irq(self._isr_ref, trig)

    def _isr(self, pin):
        self.losses += 1
        self._flag.set()

    def present(self):
        return self.pin.value() == self._ok

    async def wait_loss(self):
        while self.present():
            if self._event:
                self._flag.clear()  # no await since present(): no edge can be missed
            await self._flag.wait()
