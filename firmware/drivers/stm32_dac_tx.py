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
  a circular ring, and a second hard timer IRQ (TIM7, a few times per half ring) refills the
  half the DMA has finished from the symbol waveform table. Sample timing is then exact (the
  timer clock), and the CPU cost is only the refill copy.
  pyb.DAC.write_timed() does timer+DMA too, but only from one prepared buffer (a full frame at
  345.6 kHz would be ~160 KB) and cannot stream, hence the register-level set-up here.

Interface (shared with drivers/esp32_tx.py):
    mod = DacModulator("PA4", 6, Pin("PG0", Pin.OUT))
    mod.sample_rate
    await mod.play(samples)                          # array('H') of 12-bit codes, played once
    await mod.play_symbols(symbols, nsym, table, sps)
        # sample s of symbol i = table[symbols[i] * sps + s]: the modulator streams a frame from
        # a few precomputed waveforms (e.g. +/- carrier periods) without ever holding it whole
    mod.tx_on() / mod.tx_off()                       # line driver / coupler TX-RX switch
Both play calls switch the line driver on before the first sample and off after the last.
"""

import asyncio
from array import array

import micropython
from micropython import const

try:
    import pyb
    import stm
    import uctypes
except ImportError:  # unix port: importable, not constructible
    stm = None

_ISR_MAX_HZ = const(50000)

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
_S5FCR = const(0xA4)
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
_S_I = const(0)  # next symbol
_S_N = const(1)  # number of symbols
_S_K = const(2)  # next sample inside the symbol
_S_SPS = const(3)
_S_END = const(4)  # 0 playing, 1 source exhausted, 2 padding half queued, 3 done
_S_MID = const(5)  # idle code (mid-scale)
_S_UNDER = const(6)  # refills that came too late (both DMA flags set)
_S_SPARE = const(7)
_S_HALF = const(8)


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
        micropython.alloc_emergency_exception_buf(100)
        self.sample_rate = sample_rate
        self.mode = mode
        self._tx_en = tx_enable
        self._lead = enable_lead_ms
        self._timer_id = timer
        self._refill_id = refill_timer
        self._timer = None
        self._refill_timer = None
        self._dac = pyb.DAC(1, bits=12)  # pin to analog, DAC clock; we own the registers after
        self._flag = asyncio.ThreadSafeFlag()
        self._st = array("i", (0, 0, 0, 1, 3, mid, 0, 0, half))
        self._one = bytearray(1)  # symbol list for play(): one "symbol" = the whole buffer
        self._syms = self._one
        self._table = array("H", (mid,))
        self._reg = 0  # DAC_DHR12R1 address (isr mode) or DMA1 base (dma mode), set at start
        self._ring = array("H", bytearray(4 * half))
        # bound methods made once: a hard IRQ must not create them (isr_rules.rst)
        self._isr_ref = self._isr_sample
        self._refill_ref = self._isr_refill
        self._lock = asyncio.Lock()
        self.underruns = 0
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
    def _fill(self, out: ptr16, n: int) -> int:
        """Write the next n samples into out; pad with mid once the source runs dry."""
        st = ptr32(self._st)
        syms = ptr8(self._syms)
        tab = ptr16(self._table)
        i = st[_S_I]
        nsym = st[_S_N]
        k = st[_S_K]
        sps = st[_S_SPS]
        j = 0
        while j < n and i < nsym:
            out[j] = tab[syms[i] * sps + k]
            j += 1
            k += 1
            if k == sps:
                k = 0
                i += 1
        mid = st[_S_MID]
        while j < n:
            out[j] = mid
            j += 1
        st[_S_I] = i
        st[_S_K] = k
        return int(i >= nsym)

    @micropython.viper
    def _isr_sample(self, t):
        st = ptr32(self._st)
        if st[_S_END] >= 3:
            return
        dhr = ptr32(self._reg)
        i = st[_S_I]
        if i >= st[_S_N]:
            dhr[0] = st[_S_MID]
            st[_S_END] = 3
            self._flag.set()
            return
        k = st[_S_K]
        sps = st[_S_SPS]
        dhr[0] = ptr16(self._table)[ptr8(self._syms)[i] * sps + k]
        k += 1
        if k == sps:
            k = 0
            st[_S_I] = i + 1
        st[_S_K] = k

    @micropython.viper
    def _isr_refill(self, t):
        st = ptr32(self._st)
        end = st[_S_END]
        if end >= 3:
            return
        dma = int(self._reg)
        flags = ptr32(dma + _DMA_HISR)[0]
        ht = flags & _HTIF5
        tc = flags & _TCIF5
        if not (ht or tc):
            return
        half = st[_S_HALF]
        ring = ptr16(self._ring)
        if ht and tc:
            st[_S_UNDER] += 1  # a whole half played twice: we were too late
        ptr32(dma + _DMA_HIFCR)[0] = ht | tc
        if end >= 2:
            # the padding half is playing: every real sample is out, stop the stream
            ptr32(dma + _S5CR)[0] = ptr32(dma + _S5CR)[0] & ~_SCR_EN
            st[_S_END] = 3
            self._flag.set()
            return
        # HT: the DMA finished half 0 and now plays half 1, so half 0 is free (TC: the reverse)
        base = 0 if ht else half
        if end == 1:
            self._fill(ptr16(uint(ring) + 2 * base), half)
            st[_S_END] = 2
        else:
            st[_S_END] = int(self._fill(ptr16(uint(ring) + 2 * base), half))

    # --- hardware set-up -----------------------------------------------------------------------

    def _start_isr(self):
        m = stm.mem32
        m[_DAC + _DAC_CR] = _DAC_EN1  # no trigger: DHR -> DOR on the next APB1 clock
        self._reg = _DAC + _DAC_DHR12R1
        # hard=True is the stm32 default for Timer callbacks; say it anyway
        self._timer = pyb.Timer(self._timer_id, freq=self.sample_rate)
        try:
            self._timer.callback(self._isr_ref, hard=True)
        except TypeError:  # older firmware: callback() has no hard= (it is hard already)
            self._timer.callback(self._isr_ref)

    def _start_dma(self):
        m = stm.mem32
        half = self._st[_S_HALF]
        m[_RCC + _RCC_AHB1ENR] |= _RCC_DMA1EN
        m[_RCC + _RCC_APB1ENR] |= _RCC_DACEN
        self._reg = _DMA1
        # prefill both halves before the first trigger
        mv = memoryview(self._ring)
        end = self._fill(mv[:half], half)
        if not end:
            end = self._fill(mv[half:], half)
        else:
            self._fill(mv[half:], half)
            end = 2
        self._st[_S_END] = end
        m[_DMA1 + _S5CR] = 0
        while m[_DMA1 + _S5CR] & _SCR_EN:
            pass
        m[_DMA1 + _DMA_HIFCR] = _FLAGS5
        m[_DMA1 + _S5PAR] = _DAC + _DAC_DHR12R1
        m[_DMA1 + _S5M0AR] = uctypes.addressof(self._ring)
        m[_DMA1 + _S5NDTR] = 2 * half
        m[_DMA1 + _S5FCR] = 0
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
        # refill checks: 4 per half period
        rf = max(1, (4 * self.sample_rate) // half)
        self._refill_timer = pyb.Timer(self._refill_id, freq=rf)
        try:
            self._refill_timer.callback(self._refill_ref, hard=True)
        except TypeError:
            self._refill_timer.callback(self._refill_ref)
        # the pacing timer last: its TRGO starts the conversions
        self._timer = pyb.Timer(self._timer_id, freq=self.sample_rate)
        m[_TIM6 + _TIM_CR2] = (m[_TIM6 + _TIM_CR2] & ~(7 << 4)) | _TIM_MMS_UPDATE

    def _stop(self):
        m = stm.mem32
        for t in (self._timer, self._refill_timer):
            if t is not None:
                t.deinit()
        self._timer = self._refill_timer = None
        m[_DMA1 + _S5CR] &= ~_SCR_EN
        m[_DAC + _DAC_CR] = _DAC_EN1
        m[_DAC + _DAC_DHR12R1] = self._st[_S_MID]
        self.underruns += self._st[_S_UNDER]
        self._st[_S_UNDER] = 0

    # --- public --------------------------------------------------------------------------------

    async def play_symbols(self, symbols, nsym, table, sps):
        """Send nsym symbols: symbol i is table[symbols[i]*sps : +sps] (12-bit DAC codes)."""
        if nsym < 1 or sps < 1 or len(symbols) < nsym:
            raise ValueError("symbols")
        async with self._lock:
            st = self._st
            self._syms = symbols
            self._table = table
            st[_S_I] = 0
            st[_S_N] = nsym
            st[_S_K] = 0
            st[_S_SPS] = sps
            st[_S_END] = 0
            self._flag.clear()
            self.tx_on()
            await asyncio.sleep_ms(self._lead)  # line driver and coupler settle
            try:
                if self.mode == "isr":
                    self._start_isr()
                else:
                    self._start_dma()
                await self._flag.wait()
            finally:
                self._stop()
                self.tx_off()

    async def play(self, samples, n=-1):
        """Send a prepared buffer of 12-bit codes once (short frames, tones, self-test)."""
        if n < 0:
            n = len(samples)
        self._one[0] = 0
        await self.play_symbols(self._one, 1, samples, n)
