"""Supply-loss input (interfaces.Supply): a pin that goes low when the mains supervisor sees the
supply fail, early enough to save state on the hold-up capacitor.

    sup = SupplyInput(machine.Pin("PF14", machine.Pin.IN, machine.Pin.PULL_UP))
    await sup.wait_loss()      # then save what must survive

The edge interrupt (machine.Pin.irq(handler, trigger=Pin.IRQ_FALLING), same signature on stm32
and esp32, docs/library/machine.Pin.rst) only counts and sets the pin's wake flag
(drivers/pin_wake.py: a ThreadSafeFlag): no allocation, valid as a hard or soft handler.
unix_sim passes a drivers.sim.pin.LoopPin, whose irq() calls the handler on the same edge, so
the code path is the board's.
"""

from drivers.pin_wake import wake_flag


class SupplyInput:
    def __init__(self, pin, active_low=True):
        self.pin = pin  # on unix_sim a LoopPin: pin.value(0) cuts the simulated mains
        self._ok = 1 if active_low else 0
        self.losses = 0
        self._flag = wake_flag(pin)
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
            self._flag.clear()  # a sim pin's Event stays set (a ThreadSafeFlag clears itself)
