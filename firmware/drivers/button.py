"""Push button (interfaces.Button): debounced short and long presses.

    b = Button(machine.Pin("PC13", machine.Pin.IN), clock, active_low=False)   # Nucleo B1
    kind = await b.wait()      # 1 short, 2 long (held >= long_ms)

The pin interrupt (machine.Pin.irq, both edges; same call on stm32 and esp32) only counts the
edge and sets the pin's wake flag (drivers/pin_wake.py: a ThreadSafeFlag): no allocation, valid
as a hard or soft handler. Debouncing and
the short/long decision run in the awaiting task on the injected clock: after an edge the level
must hold for `debounce_ms`; a press held `long_ms` is long and is reported at once (the
customer sees the effect while still holding), the release then ends it; a shorter one is short
at its release. unix_sim hands in a drivers.sim.button.ButtonPin (a LoopPin), whose irq() runs
the handler on the same edges, so the board's code path runs in the tests.
"""

from micropython import const

from drivers.pin_wake import wake_flag

_POLL_MS = const(20)  # level sampling while held: long_ms resolution


class Button:
    def __init__(self, pin, clock, active_low=True, debounce_ms=30, long_ms=2000):
        self.pin = pin
        self.clock = clock
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self._down = 0 if active_low else 1
        self.presses = 0  # debounced presses since boot (short + long)
        self.edges = 0  # raw edges seen by the interrupt (bounce included)
        self._flag = wake_flag(pin)
        self._held = False  # a long press already reported, waiting for its release
        self._isr_ref = self._isr  # bound once: no allocation per interrupt
        pin.irq(self._isr_ref, pin.IRQ_FALLING | pin.IRQ_RISING)

    def _isr(self, pin):
        self.edges += 1
        self._flag.set()

    def pressed(self):
        return self.pin.value() == self._down

    async def wait(self):
        clock = self.clock
        while True:
            if self._held:  # the long press reported last time: wait for its release
                while self.pressed():
                    await clock.sleep_ms(_POLL_MS)
                self._held = False
            if not self.pressed():
                await self._flag.wait()
                self._flag.clear()  # a sim pin's Event stays set (a ThreadSafeFlag clears itself)
            await clock.sleep_ms(self.debounce_ms)
            if not self.pressed():
                continue  # bounce or a glitch shorter than the debounce time
            t0 = clock.now_ms()
            while self.pressed():
                if clock.now_ms() - t0 >= self.long_ms:
                    self.presses += 1
                    self._held = True
                    return 2
                await clock.sleep_ms(_POLL_MS)
            self.presses += 1
            return 1
