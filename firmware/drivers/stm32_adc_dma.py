"""STM32F4 continuous ADC capture: timer TRGO -> ADC1 -> DMA2 Stream0 (circular) -> ring.

Why registers: `pyb.ADC.read_timed()` blocks the whole VM and polls the timer flag in C (no DMA),
so it cannot run beside asyncio. Here the hardware does all the per-sample work: a timer's
update event (TRGO) starts each ADC1 conversion at RX_SAMPLE_RATE_HZ, DMA2 Stream0 Channel0
moves every result into a preallocated `array('H')` ring in circular mode, and an asyncio
task only polls the DMA half-transfer / transfer-complete flags. No interrupt handler is
involved (MicroPython's stm32 port owns the DMA IRQ vectors in C, so Python cannot hook them).

    cap = AdcDmaCapture("PA3", 1, 3, 2)     # pin, ADC instance, channel, trigger timer
    cap.start()
    while True:
        blk = await cap.read()              # memoryview('H') of `block` samples, 12-bit codes
        ...                                 # the oldest complete block not yet handed out

The DMA ring holds `nblocks` blocks (default 4 x 512 samples = 53.3 ms at 38.4 kHz) and is read
by position (NDTR), not by the half/full flags, so the consumer may fall behind by up to
nblocks - 1 blocks (40 ms) without losing a sample: the receiver decodes a whole frame inside
one feed() (the longest, 255 bytes, is estimated at about 23 ms on a 168 MHz M4; docs/phy.md
"Capture and decode time"), longer than one 13.3 ms block. A view stays valid until the DMA
comes round to it again, i.e. for at least one block period after read() returns it. If the DMA
overwrites blocks that were not handed out, read() skips to the oldest intact one and
`overruns` counts the blocks lost (ADC OVR and DMA errors count one each and restart the
capture). More than a whole lap between two looks is told apart from a short advance by the
time elapsed (`ticks_us`, injectable for tests).

Register references are RM0090 rev 19 (STM32F405/415/407/417/427/437/429/439):
section 13 (ADC), 10 (DMA), 18 (TIM2..5), 7.3 (RCC). Only ADC1 + DMA2 S0 C0 (table 43) and
TIM2 (EXTSEL 0110) / TIM3 (1000) / TIM8 (1110) TRGO are supported.
"""

import asyncio
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

# --- peripheral base addresses (RM0090 table 1, memory map) ----------------------------------
_RCC = const(0x40023800)
_ADC1 = const(0x40012000)
_ADC_COMMON = const(0x40012300)
_DMA2 = const(0x40026400)
_TIM_BASE = {2: 0x40000000, 3: 0x40000400, 8: 0x40010400}
_TIM_EXTSEL = {2: 0b0110, 3: 0b1000, 8: 0b1110}  # RM0090 13.13.3, EXTSEL[3:0] TRGO codes

# RCC (RM0090 7.3.10 AHB1ENR, 7.3.14 APB2ENR)
_RCC_AHB1ENR = const(0x30)
_RCC_DMA2EN = const(1 << 22)
_RCC_APB2ENR = const(0x44)
_RCC_ADC1EN = const(1 << 8)

# ADC (RM0090 13.13)
_ADC_SR = const(0x00)
_ADC_SR_OVR = const(1 << 5)
_ADC_CR1 = const(0x04)  # RES[25:24] = 00 -> 12 bit; SCAN off
_ADC_CR2 = const(0x08)
_CR2_ADON = const(1 << 0)
_CR2_DMA = const(1 << 8)
_CR2_DDS = const(1 << 9)  # keep issuing DMA requests after the last transfer (circular DMA)
_CR2_EXTSEL_SHIFT = const(24)
_CR2_EXTEN_RISING = const(1 << 28)
_ADC_SMPR1 = const(0x0C)
_ADC_SMPR2 = const(0x10)
_ADC_SQR1 = const(0x2C)  # L[23:20] = 0 -> one conversion in the sequence
_ADC_SQR3 = const(0x34)  # SQ1[4:0] = channel
_ADC_DR = const(0x4C)
_ADC_CCR = const(0x04)  # in the common block: ADCPRE[17:16]
_SMP_15 = const(0b001)  # 15 ADCCLK sampling time: 0.71 us at 21 MHz, 27 cycles per result

# DMA2 Stream0 (RM0090 10.5): stream registers at 0x10 + 0x18 * stream
_DMA_LISR = const(0x00)
_DMA_LIFCR = const(0x08)
_S0CR = const(0x10)
_S0NDTR = const(0x14)
_S0PAR = const(0x18)
_S0M0AR = const(0x1C)
_S0FCR = const(0x24)
_SCR_EN = const(1 << 0)
_SCR_CIRC = const(1 << 8)
_SCR_MINC = const(1 << 10)
_SCR_PSIZE_16 = const(1 << 11)
_SCR_MSIZE_16 = const(1 << 13)
_SCR_PL_HIGH = const(2 << 16)
_SCR_CHSEL_SHIFT = const(25)  # channel 0 for ADC1 on stream 0
_FLAGS0 = const(0x3D)  # FEIF0|DMEIF0|TEIF0|HTIF0|TCIF0 (bits 0,2,3,4,5)
_TEIF0 = const(1 << 3)

# TIM2/3/8 (RM0090 18.4 / 17.4)
_TIM_CR2 = const(0x04)
_TIM_MMS_UPDATE = const(0b010 << 4)  # master mode: update event -> TRGO


class AdcDmaCapture:
    """Continuous timer-paced ADC1 capture into a DMA ring; `await read()` yields halves."""

    def __init__(
        self,
        pin,
        adc=1,
        channel=3,
        timer=2,
        sample_rate=None,
        block=512,
        dma=(2, 0, 0),
        nblocks=4,
        ticks_us=None,
    ):
        if stm is None:
            raise OSError("AdcDmaCapture needs the stm32 port")
        if adc != 1 or tuple(dma) != (2, 0, 0):
            raise ValueError("only ADC1 on DMA2 stream 0 channel 0 (RM0090 table 43)")
        if timer not in _TIM_EXTSEL:
            raise ValueError("trigger timer must be 2, 3 or 8")
        if not 0 <= channel <= 18:
            raise ValueError("ADC channel")
        if block < 16 or block & 1:
            raise ValueError("block")
        if nblocks < 2 or nblocks * block > 65535:  # NDTR is 16 bits
            raise ValueError("nblocks")
        if sample_rate is None:
            from phy import profile

            sample_rate = profile.RX_SAMPLE_RATE_HZ
        self.sample_rate = sample_rate
        self.block = block
        self.nblocks = nblocks
        self.overruns = 0  # blocks lost (overwritten before read() handed them out)
        self.adc_overruns = 0
        self._ticks_us = ticks_us or time.ticks_us
        self._len = nblocks * block
        self._pos = 0  # DMA write index at the last look
        self._t = 0  # ticks_us of the last look
        self._wabs = 0  # samples written since start (less whole laps already read)
        self._rd = 0  # blocks handed out (same reference)
        self._pin = pin
        self._channel = channel
        self._timer_id = timer
        self._timer = None
        # MicroPython builds an array from a buffer's raw bytes: nblocks * block zeroed u16 slots
        self._ring = array("H", bytearray(2 * self._len))
        self._mv = memoryview(self._ring)
        self._blocks = tuple(self._mv[i * block : (i + 1) * block] for i in range(nblocks))
        # poll about 4 times per block period, at least every ms
        self._poll_ms = max(1, (block * 1000) // (sample_rate * 4))
        self._stall_polls = 16  # 16 polls = 4 block periods with the DMA still: dead timer or ADC
        self.stalls = 0
        self._running = False

    # --- set-up --------------------------------------------------------------------------------

    def _setup_adc(self):
        m = stm.mem32
        # Let pyb.ADC do the pin (analog mode), the ADC1 clock and the common prescaler, then
        # take ADC1 over at register level.
        pyb.ADC(machine.Pin(self._pin) if isinstance(self._pin, str) else self._pin)
        m[_RCC + _RCC_APB2ENR] |= _RCC_ADC1EN
        m[_RCC + _RCC_AHB1ENR] |= _RCC_DMA2EN
        # ADCCLK = PCLK2 / 4 = 21 MHz (max 36 MHz, RM0090 13.13.16; datasheet fADC)
        m[_ADC_COMMON + _ADC_CCR] = (m[_ADC_COMMON + _ADC_CCR] & ~(3 << 16)) | (1 << 16)
        m[_ADC1 + _ADC_CR2] = 0  # ADON off while reconfiguring
        m[_ADC1 + _ADC_CR1] = 0  # 12-bit, no scan, no interrupts
        ch = self._channel
        if ch < 10:
            r = _ADC1 + _ADC_SMPR2
            sh = 3 * ch
        else:
            r = _ADC1 + _ADC_SMPR1
            sh = 3 * (ch - 10)
        m[r] = (m[r] & ~(7 << sh)) | (_SMP_15 << sh)
        m[_ADC1 + _ADC_SQR1] = 0  # L = 0: one conversion
        m[_ADC1 + _ADC_SQR3] = ch  # SQ1 = channel
        m[_ADC1 + _ADC_SR] = 0

    def _setup_dma(self):
        m = stm.mem32
        base = _DMA2
        halt_stream(m, base + _S0CR)
        m[base + _DMA_LIFCR] = _FLAGS0
        m[base + _S0PAR] = _ADC1 + _ADC_DR
        m[base + _S0M0AR] = uctypes.addressof(self._ring)
        m[base + _S0NDTR] = self._len
        m[base + _S0FCR] = 0  # direct mode (no FIFO)
        m[base + _S0CR] = (
            (0 << _SCR_CHSEL_SHIFT)
            | _SCR_PL_HIGH
            | _SCR_MSIZE_16
            | _SCR_PSIZE_16
            | _SCR_MINC
            | _SCR_CIRC
        )  # DIR = 00 peripheral-to-memory
        m[base + _S0CR] |= _SCR_EN

    def _setup_timer(self):
        # pyb.Timer computes PSC/ARR from the timer clock (84 MHz on APB1 x2 for TIM2/3 at
        # 168 MHz SYSCLK); 84e6 / 38400 = 2187.5, so the nearest divider runs 38399.1 Hz
        # (-23 ppm), which the receiver's timing recovery absorbs.
        self._timer = pyb.Timer(self._timer_id, freq=self.sample_rate)
        tb = _TIM_BASE[self._timer_id]
        m = stm.mem32
        m[tb + _TIM_CR2] = (m[tb + _TIM_CR2] & ~(7 << 4)) | _TIM_MMS_UPDATE  # RM0090 18.4.2

    def start(self):
        """Start sampling into the ring (idempotent)."""
        if self._running:
            return
        self._setup_adc()
        self._setup_dma()
        m = stm.mem32
        extsel = _TIM_EXTSEL[self._timer_id]
        m[_ADC1 + _ADC_CR2] = _CR2_ADON
        # DMA + DDS first, then the external trigger: each TRGO rising edge converts once
        m[_ADC1 + _ADC_CR2] = (
            _CR2_ADON | _CR2_DMA | _CR2_DDS | (extsel << _CR2_EXTSEL_SHIFT) | _CR2_EXTEN_RISING
        )
        self._setup_timer()
        self._pos = 0
        self._wabs = 0
        self._rd = 0
        self._t = self._ticks_us()
        self._running = True

    def stop(self):
        if not self._running:
            return
        if self._timer is not None:
            self._timer.deinit()
            self._timer = None
        stop_adc_dma(stm.mem32, _ADC1, _DMA2 + _S0CR, _DMA2 + _DMA_LIFCR, _FLAGS0)
        self._running = False

    def _recover(self):
        # ADC overrun (RM0090 13.8.1): DMA requests stop; clear OVR and restart DMA + ADC.
        self.adc_overruns += 1
        self.overruns += 1
        self._running = False
        self.start()

    # --- data ----------------------------------------------------------------------------------

    def _look(self):
        """Advance the write counter from the DMA position; count blocks lost to overruns."""
        m = stm.mem32
        t = self._ticks_us()
        pos = (self._len - m[_DMA2 + _S0NDTR]) % self._len
        adv = (pos - self._pos) % self._len
        # whole laps between two looks cannot be seen in the position: take them from the time
        due = time.ticks_diff(t, self._t) * (self.sample_rate // 100) // 10000
        laps = (due - adv + self._len // 2) // self._len
        if laps > 0:
            adv += laps * self._len
        self._pos = pos
        self._t = t
        self._wabs += adv
        ready = self._wabs // self.block - self._rd
        if ready > self.nblocks - 1:  # the oldest unread blocks were overwritten
            self.overruns += ready - (self.nblocks - 1)
            self._rd = self._wabs // self.block - (self.nblocks - 1)
            ready = self.nblocks - 1
        while self._rd >= self.nblocks:  # keep the counters small
            self._rd -= self.nblocks
            self._wabs -= self._len
        return ready

    async def read(self):
        """The oldest complete block not yet handed out: memoryview('H') of `block` codes."""
        if not self._running:
            self.start()
        m = stm.mem32
        idle = 0
        while True:
            if m[_ADC1 + _ADC_SR] & _ADC_SR_OVR:
                self._recover()
            if m[_DMA2 + _DMA_LISR] & _TEIF0:
                self._recover()
                continue
            before = self._pos
            if self._look() > 0:
                b = self._blocks[self._rd % self.nblocks]
                self._rd += 1
                return b
            # the DMA position has not moved for 4 block periods: the timer or ADC is dead
            idle = idle + 1 if self._pos == before else 0
            if idle > self._stall_polls:
                self.stalls += 1
                self.stop()
                raise OSError(110)  # ETIMEDOUT; the next read() starts the capture again
            await asyncio.sleep_ms(self._poll_ms)

    def level(self):
        """Samples written into the current half so far (diagnostics)."""
        n = stm.mem32[_DMA2 + _S0NDTR]
        return (self._len - n) % self.block
