"""Fake stm32 `machine` (only names the port has: ports/stm32/modmachine.c, machine_pin.c,
machine_uart.c, machine_i2c.c, machine_wdt.c; RTC is pyb.RTC exposed as machine.RTC,
ports/stm32/rtc.c, datetime weekday 1-7 = Monday-Sunday). State lives in fakes.fakehw."""

from fakes.common import I2C, RTC, UART, WDT, Pin, disable_irq, enable_irq, freq  # noqa: F401
from fakes.fakehw import Mem

mem8 = Mem(1)
mem16 = Mem(2)
mem32 = Mem(4)
