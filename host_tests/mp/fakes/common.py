"""Fake machine-module classes shared by the stm32 and esp32 fakes. Each class has only methods
and constants both ports document (docs/library/machine.*.rst at MicroPython 1c3c201) and
records what the firmware did in fakehw.STATE."""

from drivers.sim.pin import SimPin

from fakes.fakehw import STATE


class Pin(SimPin):
    """machine.Pin (docs/library/machine.Pin.rst): the level, value()/on()/off() and irq() of
    drivers.sim.pin.SimPin (an edge runs the handler as the port's EXTI/GPIO ISR would), with
    the constructor and pull-up start level of a port pin. `value(v)` on an input is how a test
    drives the outside world."""

    OPEN_DRAIN = 17
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        v = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            v = 1 if value else 0
        super().__init__(str(id), v, on_change=STATE.pin_hooks.get(id))
        self.id = id
        self.mode = mode
        self.pull = pull
        STATE.pins[id] = self

    def init(self, mode=-1, pull=-1, value=None):
        self.mode = mode
        self.pull = pull


class UART:
    """machine.UART: read()/readinto() return None when nothing arrived (timeout=0), write()
    returns the count, any() the bytes waiting; init() changes the line settings."""

    def __init__(self, id, baudrate=9600, bits=8, parity=None, stop=1, **kw):
        self.id = id
        self.rx = bytearray()
        self.tx = bytearray()
        self.settings = []
        self.init(baudrate, bits, parity, stop, **kw)
        STATE.uarts[id] = self

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, **kw):
        if parity not in (None, 0, 1):
            raise ValueError("invalid parity")
        self.settings.append((baudrate, bits, parity, stop, kw.get("timeout", 0)))

    def read(self, n=-1):
        if not self.rx:
            return None
        n = len(self.rx) if n < 0 else n
        out = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return out

    def readinto(self, buf, n=-1):
        data = self.read(len(buf) if n < 0 else n)
        if data is None:
            return None
        buf[: len(data)] = data
        return len(data)

    def write(self, buf):
        self.tx += buf
        return len(buf)

    def any(self):
        return len(self.rx)

    def txdone(self):
        return True  # the fake line sends instantly

    def deinit(self):
        pass


class I2C:
    def __init__(self, id=-1, *a, **kw):
        self.id = id

    def writeto(self, addr, buf, stop=True):
        STATE.i2c_writes.append((addr, bytes(buf)))
        return 1

    def writevto(self, addr, vector, stop=True):
        STATE.i2c_writes.append((addr, b"".join(bytes(v) for v in vector)))
        return 1


class RTC:
    """datetime() -> (year, month, day, weekday, hours, minutes, seconds, subseconds); the set
    form keeps the 8-tuple as given, after the port's checks (fakehw.STATE.rtc_weekday_range)."""

    def __init__(self, id=0):
        pass

    def datetime(self, t=None):
        if t is None:
            return tuple(STATE.rtc)
        if len(t) != 8:
            raise ValueError("requested length 8 but object has length %d" % len(t))
        lo, hi = STATE.rtc_weekday_range
        if not lo <= t[3] <= hi:
            raise ValueError("weekday %d outside this port's %d..%d" % (t[3], lo, hi))
        STATE.rtc = list(t)


class WDT:
    def __init__(self, id=0, timeout=5000):
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        self.timeout = timeout
        self.feeds = 0
        STATE.wdts.append(self)

    def feed(self):
        self.feeds += 1


def freq(hz=None):
    if hz is None:
        return STATE.freq or 168_000_000
    STATE.freq = hz


def disable_irq():
    STATE.irq_disabled += 1
    return STATE.irq_disabled


def enable_irq(state):
    STATE.irq_disabled -= 1
