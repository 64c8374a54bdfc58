"""unix_sim GPIO: a pin whose level is kept, logged with a time stamp, and readable back."""

import asyncio


class SimPin:
    OUT = 1
    IN = 0
    IRQ_FALLING = 1  # machine.Pin trigger bits (docs/library/machine.Pin.rst)
    IRQ_RISING = 2

    def __init__(self, name, value=0, log=None, on_change=None):
        self.name = name
        self._v = value
        self.log = log  # list to append (name, value) edges to, or None
        self.on_change = on_change  # called with the new level on every edge
        self.edges = 0
        self._irq = None
        self._trigger = 0

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING):
        """As machine.Pin.irq: handler(pin) runs on the chosen edges of value() changes."""
        self._irq = handler
        self._trigger = trigger

    def value(self, v=None):
        if v is None:
            return self._v
        v = 1 if v else 0
        if v != self._v:
            self.edges += 1
            if self.log is not None:
                self.log.append((self.name, v))
            self._v = v
            if self.on_change is not None:
                self.on_change(v)
            if self._irq is not None and self._trigger & (
                self.IRQ_RISING if v else self.IRQ_FALLING
            ):
                self._irq(self)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def __call__(self, v=None):
        return self.value(v)


class LoopPin(SimPin):
    """An input whose edges are made by tasks of the running loop (the simulated mains, a test,
    the console), never by an interrupt or another thread. The edge drivers wake on the flag it
    hands them (drivers/pin_wake.py): an asyncio.Event, because on the unix port a task waiting
    on a ThreadSafeFlag makes every round of the loop cost about 1 ms."""

    def wake_flag(self):
        return asyncio.Event()


class LatchContact:
    """The auxiliary contact of a simulated latching relay: a rising edge on the set coil closes
    it, on the reset coil opens it; the position is kept in a file, as a real latch keeps it
    through a power cut."""

    def __init__(self, path=None):
        self._path = path
        self._closed = 1
        if path:
            try:
                with open(path) as f:
                    self._closed = 1 if f.read().strip() == "1" else 0
            except OSError:
                pass
        self.set_coil = SimPin("relay_set", on_change=self._on_set)
        self.reset_coil = SimPin("relay_reset", on_change=self._on_reset)

    def _store(self, v):
        self._closed = v
        if self._path:
            with open(self._path, "w") as f:
                f.write(str(v))

    def _on_set(self, level):
        if level:
            self._store(1)

    def _on_reset(self, level):
        if level:
            self._store(0)

    def value(self, v=None):
        return self._closed
