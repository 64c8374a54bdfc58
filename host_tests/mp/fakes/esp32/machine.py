"""Fake esp32 `machine` (ports/esp32/modmachine.c, machine_pin.c, machine_uart.c,
machine_i2c.c, machine_rtc.c: datetime weekday 0-6 = Monday-Sunday, ignored when set;
machine_wdt.c; machine_i2s.c). State lives in fakes.fakehw."""

from fakes.common import I2C, RTC, UART, WDT, Pin, disable_irq, enable_irq, freq  # noqa: F401
from fakes.fakehw import Mem

mem32 = Mem(4)


class I2S:
    """machine.I2S (docs/library/machine.I2S.rst): constructed with keyword pins and format; a
    stream for asyncio. The fake only records its configuration."""

    RX = 0
    TX = 1
    MONO = 0
    STEREO = 1

    def __init__(self, id, *, sck, ws, sd, mode, bits, format, rate, ibuf, mck=None):
        self.id = id
        self.mode = mode
        self.rate = rate

    def readinto(self, buf):
        return 0

    def write(self, buf):
        return len(buf)

    def deinit(self):
        pass
