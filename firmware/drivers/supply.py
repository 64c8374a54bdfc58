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
    def __init__(self, pin, active_low=True, flag=None):
        self.pin = pin  # on unix_sim a SimPin: pin.value(0) cuts the simulated mains
        self._ok = 1 if active_low else 0
        self.losses = 0
        # unix_sim passes an asyncio.Event: its SimPin "IRQ" runs in the loop's own thread, and
        # on the unix port a task waiting on a ThreadSafeFlag makes every scheduling round of
        # the loop cost about 1 ms (measured: 2000 yields 19 ms -> 2277 ms)
        self._flag = flag if flag is not None else asyncio.ThreadSafeFlag()
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
            await self._flag.wait()
            self._flag.clear()  # an Event stays set (a ThreadSafeFlag clears itself on wait)
