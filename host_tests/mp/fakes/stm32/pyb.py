"""Fake `pyb` with the classes the stm32 drivers use (ports/stm32/modpyb.c): Timer
(ports/stm32/timer.c: Timer(id, freq=) then callback(fun)), ADC (ports/stm32/adc.c: ADC(pin)
puts the pin in analog mode and clocks the ADC), DAC (ports/stm32/dac.c: DAC(1, bits=12)).
Timers record their callbacks and never fire them: the ISRs write real addresses through
viper pointers, which only the board has."""

from fakes.fakehw import BUS, STATE


class Timer:
    def __init__(self, id, freq=None, **kw):
        if not 1 <= id <= 14:
            raise ValueError("Timer(%d) doesn't exist" % id)
        self.id = id
        self.freq_hz = freq
        self.cb = None
        STATE.timers[id] = self
        BUS.mark(("pyb.Timer", id, freq))

    def callback(self, fun):
        self.cb = fun

    def deinit(self):
        self.cb = None
        STATE.timers.pop(self.id, None)


class ADC:
    def __init__(self, pin):
        self.pin = pin


class DAC:
    def __init__(self, port, bits=8, *, buffering=None):
        if port not in (1, 2) or bits not in (8, 12):
            raise ValueError("DAC")
        self.port = port
        self.bits = bits
