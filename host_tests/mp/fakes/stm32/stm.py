"""Fake `stm` (ports/stm32/modstm.c: mem8, mem16, mem32 over the bus model in fakes.fakehw)."""

from fakes.fakehw import Mem

mem8 = Mem(1)
mem16 = Mem(2)
mem32 = Mem(4)
