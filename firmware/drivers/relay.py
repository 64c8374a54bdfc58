"""Bistable (latching) cut-off relay: one coil pulse sets, the other resets; an optional
auxiliary contact reads the real position back so a welded or stuck contact is detected."""

import time


class LatchingRelay:
    def __init__(self, set_pin, reset_pin, pulse_ms=50, sense_pin=None, sleep_ms=None):
        self._set = set_pin
        self._reset = reset_pin
        self._sense = sense_pin
        self.pulse_ms = pulse_ms
        self._sleep_ms = sleep_ms or time.sleep_ms
        self._commanded = None
        self.operations = 0
        set_pin.value(0)
        reset_pin.value(0)

    def _pulse(self, pin):
        pin.value(1)
        self._sleep_ms(self.pulse_ms)
        pin.value(0)
        self.operations += 1

    def close(self):
        """Connect the load (coil pulse on the set side)."""
        self._pulse(self._set)
        self._commanded = True

    def open(self):
        """Cut the load off."""
        self._pulse(self._reset)
        self._commanded = False

    def state(self):
        """True closed, False open, None unknown (never commanded and no sense contact)."""
        if self._sense is not None:
            return bool(self._sense.value())
        return self._commanded

    def fault(self):
        """True when the sense contact disagrees with the last command."""
        if self._sense is None or self._commanded is None:
            return False
        return bool(self._sense.value()) != self._commanded
