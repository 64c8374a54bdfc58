"""Fake stm32 `machine` (only names the port has: ports/stm32/modmachine.c, machine_pin.c,
machine_uart.c, machine_i2c.c, machine_wdt.c; RTC is pyb.RTC exposed as machine.RTC,
ports/stm32/rtc.c, datetime weekday 1-7 = Monday-Sunday). State lives in fakes.fakehw."""

from fakes.common import I2C, RTC, UART, WDT, Pin, disable_irq, enable_irq, freq  # noqa: F401
from fakes.fakehw import STATE, Mem

mem8 = Mem(1)
mem16 = Mem(2)
mem32 = Mem(4)


class SPI:
    """machine.SPI of the stm32 port: hardware buses only (ports/stm32/machine_spi.c
    machine_hard_spi_make_new: id, baudrate=500000, keyword-only polarity/phase/bits/firstbit;
    sck/mosi/miso raise ValueError, the pins are the build's MICROPY_HW_SPIn_*), and the methods
    of extmod/machine_spi.c. The chip on the bus (fakehw.STATE.spi) sees every byte."""

    MSB = 0
    LSB = 0x80

    def __init__(self, id, baudrate=500000, *, polarity=0, phase=0, bits=8, firstbit=MSB, **pins):
        if id not in STATE.spi:
            raise ValueError("SPI(%d) doesn't exist" % id)
        if pins:
            raise ValueError("explicit choice of sck/mosi/miso is not implemented")
        self.id = id
        self.settings = (baudrate, polarity, phase, bits, firstbit)

    def _xfer(self, out):
        chip = STATE.spi[self.id]
        return b"\xff" * len(out) if chip is None else chip.transfer(out)

    def write(self, buf):
        self._xfer(bytes(buf))

    def read(self, n, write=0):
        return self._xfer(bytes((write,)) * n)

    def readinto(self, buf, write=0):
        buf[:] = self._xfer(bytes((write,)) * len(buf))

    def write_readinto(self, wbuf, rbuf):
        rbuf[:] = self._xfer(bytes(wbuf))

    def deinit(self):
        pass
