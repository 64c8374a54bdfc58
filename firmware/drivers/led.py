"""Status LED (interfaces.Led) on a GPIO: value(v=None), on(), off(); `active_low` for LEDs
wired to the supply (so the app always says on/off, never a pin level)."""


class Led:
    def __init__(self, pin, active_low=False):
        self._pin = pin
        self._inv = 1 if active_low else 0
        pin.value(self._inv)  # off

    def value(self, v=None):
        if v is None:
            return self._pin.value() ^ self._inv
        self._pin.value((1 if v else 0) ^ self._inv)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)
