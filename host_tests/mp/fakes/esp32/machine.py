"""Fake esp32 `machine` (ports/esp32/modmachine.c, machine_pin.c, machine_uart.c,
machine_i2c.c, machine_rtc.c: datetime weekday 0-6 = Monday-Sunday, ignored when set;
machine_wdt.c; machine_i2s.c). State lives in fakes.fakehw."""

import io

from fakes.common import I2C, RTC, UART, WDT, Pin, disable_irq, enable_irq, freq  # noqa: F401
from fakes.fakehw import Mem

mem32 = Mem(4)


class I2S(io.IOBase):
    """machine.I2S (docs/library/machine.I2S.rst): constructed with keyword pins and format; a
    stream asyncio can poll (ports/esp32/machine_i2s.c implements the stream ioctl). The fake's
    clock never runs: no sample ever arrives and nothing written ever drains, as on a board
    whose I2S clock stopped, unless a test feeds it (feed(): test control, not a port API).
    The constructor's keywords are kept in `kw` for the tests to check. No `mck=`: the esp32
    port does not set MICROPY_PY_MACHINE_I2S_MCK (extmod/machine_i2s.c; only mimxrt does) and
    leaves the master clock unused (ports/esp32/machine_i2s.c)."""

    RX = 0
    TX = 1
    MONO = 0
    STEREO = 1

    def __init__(self, id, *, sck, ws, sd, mode, bits, format, rate, ibuf):
        self.id = id
        self.mode = mode
        self.rate = rate
        self.kw = dict(sck=sck, ws=ws, sd=sd, mode=mode, bits=bits, format=format)
        self.kw.update(rate=rate, ibuf=ibuf)
        self._data = b""

    def feed(self, data):
        self._data += bytes(data)

    def readinto(self, buf):
        if not self._data:
            return None  # nothing yet (non-blocking stream)
        n = min(len(buf), len(self._data))
        buf[:n] = self._data[:n]
        self._data = self._data[n:]
        return n

    def write(self, buf):
        return None

    def ioctl(self, req, arg):
        if req == 10:  # MP_STREAM_GET_FILENO: no file descriptor, poll through this ioctl
            return -1
        if req == 3 and self._data and arg & 1:  # MP_STREAM_POLL: readable once fed
            return 1
        return 0  # MP_STREAM_POLL: otherwise never readable, never writable

    def deinit(self):
        pass
