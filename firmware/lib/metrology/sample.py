"""One metering interval as a metrology front-end reports it.

The seam between the front-ends (`hw.metrology`: the STPM3x driver, the direct-ADC path) and the
energy engine. Everything is an integer in milli-units so the engine accumulates without drift:
an energy increment is what the front-end measured since its previous successful read, so a
read that fails (bad CRC, no answer) loses nothing and invents nothing; the next good read
covers the gap (dt_ms says how long it was).
"""

from micropython import const

# status bits a front-end may set on a sample it still delivers
ST_CLIPPED = const(1)  # a channel saturated in the interval (values are a lower bound)
ST_NO_VOLTAGE = const(2)  # voltage below the front-end's presence threshold all interval
ST_RESYNC = const(4)  # first sample after a front-end reset: energies start from here


class Sample:
    def __init__(self):
        self.dt_ms = 0  # time the increments cover, ms
        self.ep_mws = 0  # active energy, signed (import positive), milliwatt-seconds
        self.eq_mvars = 0  # reactive energy, signed (inductive/lagging positive), mvar-s
        self.v_mv = 0  # RMS voltage over the interval, mV
        self.i_ma = 0  # RMS current over the interval, mA
        self.p_mw = 0  # mean active power, signed, mW
        self.q_mvar = 0  # mean reactive power, signed, mvar
        self.f_mhz = 0  # line frequency, mHz (0 when unknown)
        self.v_min_mv = 0  # lowest and highest cycle RMS voltage seen (sags, swells)
        self.v_max_mv = 0
        self.status = 0  # ST_* bits

    def clear(self):
        self.dt_ms = self.ep_mws = self.eq_mvars = 0
        self.v_mv = self.i_ma = self.p_mw = self.q_mvar = self.f_mhz = 0
        self.v_min_mv = self.v_max_mv = self.status = 0
