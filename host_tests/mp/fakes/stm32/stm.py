"""Fake `stm` (ports/stm32/modstm.c): mem8, mem16, mem32 over the bus model in fakes.fakehw,
and the few peripheral constants the drivers read. The real module generates its constants
from the CMSIS device header (ports/stm32/make-stmconst.py, MICROPY_PY_STM_CONST): peripheral
base addresses by name (USART6 = 0x40011400 on the F429, RM0090 table 1) and register offsets
as <PERIPH>_<REG> (USART_SR = 0x00, USART_DR = 0x04, RM0090 30.6)."""

from fakes.fakehw import Mem

mem8 = Mem(1)
mem16 = Mem(2)
mem32 = Mem(4)

USART1 = 0x40011000
USART2 = 0x40004400
USART3 = 0x40004800
USART6 = 0x40011400
USART_SR = 0x00
USART_DR = 0x04
FLASH = 0x40023C00
RCC = 0x40023800
