"""STM32F4 direct-ADC metering capture: TIM3 TRGO -> ADC3 scan (V, I) -> DMA2 Stream1 -> ring.

Beside the PHY's capture (ADC1, DMA2 Stream0, TIM2: drivers/stm32_adc_dma.py) and with no
interrupt: TIM3's update event starts a regular sequence of two conversions on ADC3 (SCAN,
L = 1: SQ1 = the voltage channel, SQ2 = the current channel), DMA2 Stream1 Channel2 (RM0090
table 43) moves each result into a preallocated array('H') ring in circular mode, so the ring
holds interleaved (V, I) pairs exactly as metrology.adc_frontend wants them. The front-end's
read() (once a second) drains it with take(), which never blocks:

    src = MeterAdc("PC0", 10, "PC3", 13)  # V pin/channel, I pin/channel (ADC123_IN10/IN13)
    src.start()
    blk = src.take()                      # memoryview('H') of 2 * block codes, or None

The ring holds `nblocks` blocks (default 40 x 160 pairs = 1.6 s at 4 kHz, 25.6 KiB) so that a
read a second apart never loses a sample; the position is read from NDTR, whole laps from the
elapsed time (`ticks_us`, injectable). Blocks overwritten before take() handed them out are
counted in `overruns` (their energy is not metered: never invented); an ADC overrun (OVR) or a
DMA transfer error restarts the capture and counts one.

Timing: ADCCLK 21 MHz (the common prescaler /4 the PHY's driver sets; same here), 84-cycle
sampling (a high-impedance divider settles), 96 cycles = 4.57 us per conversion, so I is taken
4.57 us after V: 0.082 degrees of lead at 50 Hz, taken out by AdcCal.phase_mdeg (calibration).
TIM3 runs from the 84 MHz APB1 timer clock: 84e6 / 4000 = 21000, an exact divider.
Registers: RM0090 rev 19, sections 13 (ADC), 10 (DMA), 18 (TIM2..5), 7.3 (RCC).
"""

import time
from array import array

from micropython import const

from drivers.stm32_dma import halt_stream, stop_adc_dma

try:
    import machine
    import pyb
    import stm
    import uctypes
except ImportError:  # unix port: importable for tests/cross-compile, not constructible
    stm = None

_RCC = const(0x40023800)
_RCC_AHB1ENR = const(0x30)
_RCC_DMA2EN = const(1 << 22)
_RCC_APB2ENR = const(0x44)
_RCC_ADC3EN = const(1 << 10)
_ADC3 = const(0x40012200)
_ADC_COMMON = const(0x40012300)
_ADC_SR = const(0x00)
_ADC_SR_OVR = const(1 << 5)
_ADC_CR1 = const(0x04)
_CR1_SCAN = const(1 << 8)
_ADC_CR2 = const(0x08)
_CR2_ADON = const(1 << 0)
_CR2_DMA = const(1 << 8)
_CR2_DDS = const(1 << 9)
_EXTSEL_TIM3_TRGO = const(0b1000 << 24)  # RM0090 13.13.3
_CR2_EXTEN_RISING = const(1 << 28)
_ADC_SMPR1 = const(0x0C)
_ADC_SMPR2 = const(0x10)
_ADC_SQR1 = const(0x2C)
_ADC_SQR3 = const(0x34)
_ADC_DR = const(0x4C)
_ADC_CCR = const(0x04)
_SMP_84 = const(0b100)
_DMA2 = const(0x40026400)
_DMA_LISR = const(0x00)
_DMA_LIFCR = const(0x08)
_S1CR = const(0x28)  # stream 1: 0x10 + 0x18
_S1NDTR = const(0x2C)
_S1PAR = const(0x30)
_S1M0AR = const(0x34)
_S1FCR = const(0x3C)
_SCR_EN = const(1 << 0)
_SCR_BITS = const((2 << 25) | (1 << 16) | (1 << 13) | (1 << 11) | (1 << 10) | (1 << 8))
# CHSEL = 2 (ADC3), priority medium (the PHY's stream is high), 16-bit memory and peripheral,
# memory increment, circular; DIR = 00 peripheral to memory
_FLAGS1 = const(0x3D << 6)  # FEIF1|DMEIF1|TEIF1|HTIF1|TCIF1
_TEIF1 = const(1 << 9)
_TIM3 = const(0x40000400)
_TIM_CR2 = const(0x04)
_TIM_MMS_UPDATE = const(0b010 << 4)


class MeterAdc:
    def __init__(
        self, v_pin, v_channel, i_pin, i_channel, fs=4000, block=160, nblocks=40, ticks_us=None
    ):
        if stm is None:
            raise OSError("MeterAdc needs the stm32 port")
        for ch in (v_channel, i_channel):
            if not 0 <= ch <= 15:
                raise ValueError("ADC3 channel")
        if nblocks < 2 or 2 * nblocks * block > 65535:
            raise ValueError("nblocks")
        self.fs = fs
        self.block = block
        self.nblocks = nblocks
        self.overruns = 0
        self.restarts = 0
        self._pins = (v_pin, i_pin)
        self._ch = (v_channel, i_channel)
        self._ticks_us = ticks_us or time.ticks_us
        self._len = 2 * nblocks * block  # halfwords (transfers)
        self._ring = array("H", bytearray(2 * self._len))
        mv = memoryview(self._ring)
        self._blocks = tuple(mv[2 * k * block : 2 * (k + 1) * block] for k in range(nblocks))
        self._timer = None
        self._running = False
        self._pos = 0
        self._t = 0
        self._habs = 0  # halfwords written since the counters were last reduced
        self._rd = 0  # blocks handed out (same reference)

    def _setup(self):
        m = stm.mem32
        for p in self._pins:
            pyb.ADC(machine.Pin(p) if isinstance(p, str) else p)  # analog mode, clocks
        m[_RCC + _RCC_APB2ENR] |= _RCC_ADC3EN
        m[_RCC + _RCC_AHB1ENR] |= _RCC_DMA2EN
        m[_ADC_COMMON + _ADC_CCR] = (m[_ADC_COMMON + _ADC_CCR] & ~(3 << 16)) | (1 << 16)
        m[_ADC3 + _ADC_CR2] = 0
        m[_ADC3 + _ADC_CR1] = _CR1_SCAN  # 12-bit, scan the sequence, no interrupts
        for ch in self._ch:
            r, sh = (_ADC_SMPR2, 3 * ch) if ch < 10 else (_ADC_SMPR1, 3 * (ch - 10))
            m[_ADC3 + r] = (m[_ADC3 + r] & ~(7 << sh)) | (_SMP_84 << sh)
        m[_ADC3 + _ADC_SQR1] = 1 << 20  # L = 1: two conversions
        m[_ADC3 + _ADC_SQR3] = self._ch[0] | (self._ch[1] << 5)  # SQ1 = V, SQ2 = I
        m[_ADC3 + _ADC_SR] = 0
        halt_stream(m, _DMA2 + _S1CR)
        m[_DMA2 + _DMA_LIFCR] = _FLAGS1
        m[_DMA2 + _S1PAR] = _ADC3 + _ADC_DR
        m[_DMA2 + _S1M0AR] = uctypes.addressof(self._ring)
        m[_DMA2 + _S1NDTR] = self._len
        m[_DMA2 + _S1FCR] = 0
        m[_DMA2 + _S1CR] = _SCR_BITS
        m[_DMA2 + _S1CR] |= _SCR_EN
        m[_ADC3 + _ADC_CR2] = _CR2_ADON
        m[_ADC3 + _ADC_CR2] = (
            _CR2_ADON | _CR2_DMA | _CR2_DDS | _EXTSEL_TIM3_TRGO | _CR2_EXTEN_RISING
        )
        self._timer = pyb.Timer(3, freq=self.fs)
        m[_TIM3 + _TIM_CR2] = (m[_TIM3 + _TIM_CR2] & ~(7 << 4)) | _TIM_MMS_UPDATE

    def start(self):
        if self._running:
            return
        self._setup()
        self._pos = self._habs = self._rd = 0
        self._t = self._ticks_us()
        self._running = True

    def stop(self):
        if not self._running:
            return
        if self._timer is not None:
            self._timer.deinit()
            self._timer = None
        stop_adc_dma(stm.mem32, _ADC3, _DMA2 + _S1CR, _DMA2 + _DMA_LIFCR, _FLAGS1)
        self._running = False

    def _restart(self):
        self.restarts += 1
        self.overruns += 1
        self.stop()
        self.start()

    def take(self):
        """The oldest complete block not yet handed out (memoryview('H'), 2 * block codes,
        V and I interleaved), or None when none is complete yet. Never blocks."""
        if not self._running:
            self.start()
            return None
        m = stm.mem32
        if m[_ADC3 + _ADC_SR] & _ADC_SR_OVR or m[_DMA2 + _DMA_LISR] & _TEIF1:
            self._restart()  # ADC overrun (DMA requests stop, RM0090 13.8.1) or DMA error
            return None
        t = self._ticks_us()
        pos = (self._len - m[_DMA2 + _S1NDTR]) % self._len
        adv = (pos - self._pos) % self._len
        due = 2 * time.ticks_diff(t, self._t) * self.fs // 1000000  # halfwords since the look
        laps = (due - adv + self._len // 2) // self._len
        if laps > 0:
            adv += laps * self._len
        self._pos = pos
        self._t = t
        self._habs += adv
        ready = (self._habs >> 1) // self.block - self._rd
        if ready > self.nblocks - 1:  # the oldest unread blocks were overwritten
            self.overruns += ready - (self.nblocks - 1)
            self._rd += ready - (self.nblocks - 1)
            ready = self.nblocks - 1
        if ready <= 0:
            return None
        b = self._blocks[self._rd % self.nblocks]
        self._rd += 1
        if self._rd >= self.nblocks:  # keep the counters small
            self._rd -= self.nblocks
            self._habs -= self._len
        return b
