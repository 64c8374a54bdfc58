"""STM32F4 soft-PHY modulator: DAC1 (PA4) paced by hardware timers, line driver on a pin.

Two ways to pace the samples, both with hard-IRQ handlers that only index preallocated buffers
(no allocation, no floats; bound methods stored in the constructor; ISR rules in
docs/reference/isr_rules.rst):

* mode "isr": TIM6 interrupts at the sample rate and its hard callback writes the next sample
  straight into DAC_DHR12R1 (RM0090 14.5.3: with TEN1 = 0 the value reaches DAC_DOR1 one APB1
  clock later). This is the simplest pacing, but every sample costs a MicroPython hard-IRQ
  entry plus the viper body, roughly 4-8 us on a 168 MHz F4, so it is only usable up to about
  _ISR_MAX_HZ, with jitter of a few hundred ns from other interrupts.
* mode "dma" (what `auto` picks at profile v1's TX_SAMPLE_RATE_HZ = 345.6 kHz, 2.9 us per
  sample, far beyond the ISR path): TIM6 TRGO triggers each DAC conversion (TEN1 = 1,
  TSEL1 = 000, RM0090 14.3.7), DMA1 Stream5 Channel7 (RM0090 table 42) feeds DAC_DHR12R1 from
  a circular two-half ring, and a second hard timer IRQ (TIM7, four times per half) recycles
  the half the DMA has finished (parks it at mid-scale, hands it back to send()) or ends the
  burst. Sample timing is then exact (the timer clock); the CPU cost is the block copy.
  pyb.DAC.write_timed() does timer+DMA too, but only from one prepared buffer (a full frame at
  345.6 kHz would be ~160 KB) and cannot stream, hence the register-level set-up here.

Interface (what phy.softphy.SoftPhy uses; shared with drivers/esp32_tx.py):
    mod = DacModulator("PA4", 6, Pin("PG0", Pin.OUT))
    mod.sample_rate
    await mod.send(samples, n)   # n <= `half` 12-bit codes; returns once they are copied
    await mod.wait_done()        # optional: until the last sample is out
    await mod.play(samples)      # send() a whole buffer in blocks, then wait_done()
The first send() of a burst switches the line driver on and starts the pacing `enable_lead_ms`
later; blocks then play back to back from a two-half ring. When a half finishes and the other
half holds no new block, the burst is over: the ISR stops the output at mid-scale and switches
the line driver off. So a caller only has to keep calling send() faster than real time (one
half = 1152 samples = 3.3 ms at 345.6 kHz); a block that comes too late ends the burst
(`underruns` counts a half that played twice in DMA mode).
"""

import asyncio
from array import array

import micropython
from micropython import const

from drivers.stm32_dma import halt_stream

try:
    import pyb
    import stm
    import uctypes
except ImportError:  # unix port: importable, not constructible
    stm = None

_ISR_MAX_HZ = const(50000)
# stm32 has it (py/modmicropython.c, MICROPY_ENABLE_EMERGENCY_EXCEPTION_BUF); the unix port,
# where the contract tests build this driver on fake registers, does not
_emergency_buf = getattr(micropython, "alloc_emergency_exception_buf", lambda n: None)

# RM0090 table 1 / 7.3
_RCC = const(0x40023800)
_RCC_AHB1ENR = const(0x30)
_RCC_DMA1EN = const(1 << 21)
_RCC_APB1ENR = const(0x40)
_RCC_DACEN = const(1 << 29)
_DAC = const(0x40007400)
_DAC_CR = const(0x00)  # RM0090 14.5.1
_DAC_EN1 = const(1 << 0)
_DAC_TEN1 = const(1 << 2)  # TSEL1[5:3] = 000: TIM6 TRGO
_DAC_DMAEN1 = const(1 << 12)
_DAC_DHR12R1 = const(0x08)
_DMA1 = const(0x40026000)
_DMA_HISR = const(0x04)  # stream 5 flags: HTIF5 bit 10, TCIF5 bit 11, TEIF5 bit 9
_DMA_HIFCR = const(0x0C)
_FLAGS5 = const(0xF40)  # FEIF5|DMEIF5|TEIF5|HTIF5|TCIF5 (bits 6, 8..11)
_HTIF5 = const(1 << 10)
_TCIF5 = const(1 << 11)
_S5CR = const(0x88)  # stream registers at 0x10 + 0x18 * 5 (RM0090 10.5.5..)
_S5NDTR = const(0x8C)
_S5PAR = const(0x90)
_S5M0AR = const(0x94)
_S5FCR = const(0x9C)  # 0x24 + 0x18 * stream (RM0090 10.5.10)
_SCR_EN = const(1 << 0)
_SCR_DIR_M2P = const(1 << 6)
_SCR_CIRC = const(1 << 8)
_SCR_MINC = const(1 << 10)
_SCR_PSIZE_16 = const(1 << 11)
_SCR_MSIZE_16 = const(1 << 13)
_SCR_PL_VHIGH = const(3 << 16)
_SCR_CHSEL_7 = const(7 << 25)
_TIM6 = const(0x40001000)
_TIM_CR2 = const(0x04)
_TIM_MMS_UPDATE = const(0b010 << 4)  # RM0090 20.4.2 (basic timers): update -> TRGO

# state words (array 'i') shared by thread code and the ISRs
_S_FULL0 = const(0)  # half 0 holds a block not yet played
_S_FULL1 = const(1)
_S_NEXT = const(2)  # half the next send() fills
_S_RUN = const(3)  # 0 idle, 2 burst queued (pacing starts after the lead), 1 pacing runs
_S_POS = const(4)  # isr mode: next sample index in the ring
_S_MID = const(5)  # idle code (mid-scale)
_S_UNDER = const(6)  # DMA mode: refill ISR came after both halves had finished
_S_HALF = const(7)
_S_PLAYED = const(8)  # halves played since start (both modes): the stall check's progress mark
_STALL_HALVES = const(4)  # no half played for this many half periods: the pacing is dead


class DacModulator:
    """Timer-paced DAC1 modulator with line-driver enable; see module docstring."""

    def __init__(
        self,
        pin="PA4",
        timer=6,
        tx_enable=None,
        sample_rate=None,
        mode="auto",
        refill_timer=7,
        half=1152,
        mid=None,
        enable_lead_ms=1,
    ):
        if stm is None:
            raise OSError("DacModulator needs the stm32 port")
        if pin not in ("PA4", "X5", "A4"):
            raise ValueError("DAC channel 1 output is PA4")
        if timer != 6:
            raise ValueError("TIM6 TRGO is the DAC trigger used here (TSEL1 = 000)")
        if sample_rate is None or mid is None:
            from phy import profile

            sample_rate = sample_rate or profile.TX_SAMPLE_RATE_HZ
            mid = profile.DAC_MID if mid is None else mid
        if mode == "auto":
            mode = "isr" if sample_rate <= _ISR_MAX_HZ else "dma"
        if mode == "isr" and sample_rate > _ISR_MAX_HZ:
            raise ValueError("ISR pacing tops out near %d Hz: use mode='dma'" % _ISR_MAX_HZ)
        if mode not in ("isr", "dma"):
            raise ValueError("mode")
        _emergency_buf(100)
        self.sample_rate = sample_rate
        self.mode = mode
        self._tx_en = tx_enable
        self._lead = enable_lead_ms
        self._timer_id = timer
        self._refill_id = refill_timer
        self._timer = None
        self._refill_timer = None
        self._dac = pyb.DAC(1, bits=12)  # pin to analog, DAC clock; we own the registers after
        self._free = asyncio.ThreadSafeFlag()  # a half became free (one waiter: send)
        self._done = asyncio.ThreadSafeFlag()  # the burst ended (one waiter: wait_done)
        self._st = array("i", (0, 0, 0, 0, 0, mid, 0, half, 0))
        self._ring = array("H", bytearray(4 * half))
        self._reg = 0  # DAC_DHR12R1 address (isr mode) or DMA1 base (dma mode), set at start
        self._dhr = _DAC + _DAC_DHR12R1
        # bound methods made once: a hard IRQ must not create them (isr_rules.rst)
        self._isr_ref = self._isr_sample
        self._refill_ref = self._isr_refill
        self._off_ref = self.tx_off
        self._starter = None
        self.underruns = 0
        self.bursts = 0
        self.stalls = 0  # bursts ended because the pacing timer stopped (see _wait_end)
        self.tx_off()

    # --- line driver ---------------------------------------------------------------------------

    def tx_on(self):
        if self._tx_en is not None:
            self._tx_en.value(1)

    def tx_off(self):
        if self._tx_en is not None:
            self._tx_en.value(0)

    # --- ISR bodies (viper: integer work on preallocated buffers only) -------------------------

    @micropython.viper
    def _copy(self, dst: ptr16, src: ptr16, n: int, total: int, mid: int):
        """dst[:n] = src[:n]; dst[n:total] = mid."""
        i = 0
        while i < n:
            dst[i] = src[i]
            i += 1
        while i < total:
            dst[i] = mid
            i += 1

    @micropython.viper
    def _end(self):
        # burst over: output parked at mid-scale, line driver off, waiters woken
        st = ptr32(self._st)
        st[_S_RUN] = 0
        st[_S_FULL0] = 0
        st[_S_FULL1] = 0
        st[_S_NEXT] = 0
        self._off_ref()
        self._done.set()
        self._free.set()

    @micropython.viper
    def _isr_sample(self, t):
        """isr mode: one sample per TIM6 update."""
        st = ptr32(self._st)
        if st[_S_RUN] != 1:
            return
        half = st[_S_HALF]
        p = st[_S_POS]
        dhr = ptr32(self._reg)
        if (p == 0 and st[_S_FULL0] == 0) or (p == half and st[_S_FULL1] == 0):
            dhr[0] = st[_S_MID]
            self._end()
            return
        dhr[0] = ptr16(self._ring)[p]
        p += 1
        if p == half:
            st[_S_FULL0] = 0
            st[_S_PLAYED] += 1
            self._free.set()
        elif p == 2 * half:
            st[_S_FULL1] = 0
            st[_S_PLAYED] += 1
            p = 0
            self._free.set()
        st[_S_POS] = p

    @micropython.viper
    def _isr_refill(self, t):
        """dma mode, on TIM7: recycle the half the DMA finished; end the burst when dry."""
        st = ptr32(self._st)
        if st[_S_RUN] != 1:
            return
        dma = int(self._reg)
        flags = ptr32(dma + _DMA_HISR)[0]
        ht = flags & _HTIF5
        tc = flags & _TCIF5
        if not (ht or tc):
            return
        ptr32(dma + _DMA_HIFCR)[0] = ht | tc
        half = st[_S_HALF]
        if ht and tc:
            st[_S_UNDER] += 1  # both finished since the last check: one played twice
            # NDTR > half: the DMA is in half 0, so half 1 is the one just finished
            done = 1 if ptr32(dma + _S5NDTR)[0] > half else 0
        else:
            done = 0 if ht else 1
        # HT: half 0 finished and half 1 plays now (TC: the reverse). Park the finished half at
        # mid-scale so that a late block can never replay stale samples.
        out = ptr16(self._ring)
        mid = st[_S_MID]
        i = half * done
        e = i + half
        while i < e:
            out[i] = mid
            i += 1
        st[done] = 0  # _S_FULL0 / _S_FULL1
        st[_S_PLAYED] += 1
        if st[1 - done] == 0:
            # the half playing now is padding: every real sample is out, stop the stream
            ptr32(dma + _S5CR)[0] = ptr32(dma + _S5CR)[0] & ~_SCR_EN
            ptr32(self._dhr)[0] = st[_S_MID]
            self._end()
            return
        self._free.set()

    # --- hardware set-up -----------------------------------------------------------------------

    def _start_isr(self):
        m = stm.mem32
        m[_DAC + _DAC_CR] = _DAC_EN1  # no trigger: DHR -> DOR on the next APB1 clock
        self._reg = _DAC + _DAC_DHR12R1
        self._st[_S_POS] = 0
        self._st[_S_RUN] = 1
        self._timer = pyb.Timer(self._timer_id, freq=self.sample_rate)
        try:  # hard=True is the stm32 default for Timer callbacks; say it anyway
            self._timer.callback(self._isr_ref, hard=True)
        except TypeError:  # firmware whose callback() has no hard= (it is hard already)
            self._timer.callback(self._isr_ref)

    def _start_dma(self):
        m = stm.mem32
        half = self._st[_S_HALF]
        m[_RCC + _RCC_AHB1ENR] |= _RCC_DMA1EN
        m[_RCC + _RCC_APB1ENR] |= _RCC_DACEN
        self._reg = _DMA1
        halt_stream(m, _DMA1 + _S5CR)
        m[_DMA1 + _DMA_HIFCR] = _FLAGS5
        m[_DMA1 + _S5PAR] = _DAC + _DAC_DHR12R1
        m[_DMA1 + _S5M0AR] = uctypes.addressof(self._ring)
        m[_DMA1 + _S5NDTR] = 2 * half
        m[_DMA1 + _S5FCR] = 0  # direct mode
        m[_DMA1 + _S5CR] = (
            _SCR_CHSEL_7
            | _SCR_PL_VHIGH
            | _SCR_MSIZE_16
            | _SCR_PSIZE_16
            | _SCR_MINC
            | _SCR_CIRC
            | _SCR_DIR_M2P
            | _SCR_EN
        )
        m[_DAC + _DAC_CR] = _DAC_EN1 | _DAC_TEN1 | _DAC_DMAEN1  # TSEL1 = 000: TIM6 TRGO
        self._st[_S_RUN] = 1
        if self._refill_timer is None:  # 4 checks per half period (1.2 kHz at v1 rates)
            rf = max(1, (4 * self.sample_rate) // half)
            self._refill_timer = pyb.Timer(self._refill_id, freq=rf)
            try:
                self._refill_timer.callback(self._refill_ref, hard=True)
            except TypeError:
                self._refill_timer.callback(self._refill_ref)
        # the pacing timer last: its TRGO starts the conversions (RM0090 20.4.2 MMS = 010)
        self._timer = pyb.Timer(self._timer_id, freq=self.sample_rate)
        m[_TIM6 + _TIM_CR2] = (m[_TIM6 + _TIM_CR2] & ~(7 << 4)) | _TIM_MMS_UPDATE

    def _release(self):
        """Stop the pacing timer after a burst (the ISR already parked the output)."""
        for t in (self._timer, self._refill_timer):
            if t is not None:
                t.deinit()
        self._timer = self._refill_timer = None
        if self.mode == "dma":
            stm.mem32[_DMA1 + _S5CR] &= ~_SCR_EN
        stm.mem32[_DAC + _DAC_DHR12R1] = self._st[_S_MID]
        self.underruns += self._st[_S_UNDER]
        self._st[_S_UNDER] = 0

    async def _start_later(self):
        await asyncio.sleep_ms(self._lead)  # line driver and coupler settle
        if self.mode == "isr":
            self._start_isr()
        else:
            self._start_dma()
        await self._wait_end()
        self._release()
        self._starter = None

    async def _wait_end(self):
        # The ISR ends the burst. If the pacing timer never fires (dead timer, clock fault),
        # nothing would: wait in slices of _STALL_HALVES half periods, and when a slice passes
        # without a half played, end the burst here (output parked, driver off) and count it.
        st = self._st
        slice_ms = max(10, (1000 * _STALL_HALVES * st[_S_HALF]) // self.sample_rate)
        mark = st[_S_PLAYED]
        while True:
            try:
                await asyncio.wait_for_ms(self._done.wait(), slice_ms)
                return
            except asyncio.TimeoutError:
                if st[_S_PLAYED] == mark:
                    self.stalls += 1
                    self._end()
                    return
                mark = st[_S_PLAYED]

    # --- public --------------------------------------------------------------------------------

    async def send(self, samples, n=-1):
        """Queue n (<= half) 12-bit codes; returns once copied (may wait for a free half)."""
        st = self._st
        half = st[_S_HALF]
        if n < 0:
            n = len(samples)
        if n < 1 or n > half:
            raise ValueError("block of 1..%d samples" % half)
        while st[_S_RUN] and st[st[_S_NEXT]]:
            await self._free.wait()  # both halves hold unplayed blocks
        if st[_S_RUN] == 0:
            # a new burst (or the last one ran dry): line driver on now, pacing after
            # enable_lead_ms from a task, so the caller can queue the second block meanwhile
            if self._starter is not None:
                await self.wait_done()  # the previous burst's timer clean-up
            st[_S_FULL0] = st[_S_FULL1] = st[_S_NEXT] = 0
            st[_S_RUN] = 2
            self._done.clear()
            self._free.clear()
            self.bursts += 1
            self.tx_on()
            self._starter = asyncio.create_task(self._start_later())
        h = st[_S_NEXT]
        mv = memoryview(self._ring)
        self._copy(mv[h * half :], samples, n, half, st[_S_MID])
        st[h] = 1  # _S_FULL0 / _S_FULL1
        st[_S_NEXT] = h ^ 1

    async def wait_done(self):
        """Until the current burst's last sample is out and the line driver is off."""
        while self._starter is not None:
            await asyncio.sleep_ms(1)

    async def play(self, samples, n=-1):
        """Send a whole buffer of 12-bit codes in half-ring blocks, then wait for the end."""
        if n < 0:
            n = len(samples)
        half = self._st[_S_HALF]
        mv = memoryview(samples)
        p = 0
        while p < n:
            m = min(half, n - p)
            await self.send(mv[p:], m)
            p += m
        await self.wait_done()
