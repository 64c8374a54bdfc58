"""ESP32 soft-PHY modulator: samples clocked out by the I2S peripheral into an external DAC.

Why not a timer interrupt like drivers/stm32_dac_tx.py: on the ESP32 machine.Timer callbacks
are always soft IRQs (run via mp_sched_schedule, ports/esp32/machine_timer.c), with latencies
from tens of us to ~10 ms (micropython#3894) plus ~300 us flash-cache stalls (#3493); hard
Pin/Timer IRQs are not available. A 345.6 kHz sample clock (2.9 us) paced from Python is
therefore impossible, and even a refill interrupt could not be trusted. The I2S peripheral's
DMA is clocked from the PLL, so the sample timing is exact and Python only has to keep the DMA
buffer topped up from asyncio; the buffer (`ibuf`) is sized to ride through GC pauses.

DAC: **TI PCM5102A** (3-wire I2S, internal PLL from BCK so no MCLK, 16..32-bit, sample rates to
384 kHz; its interpolation filter passes up to 0.45 fs = 155 kHz at 345.6 kHz, so the 86.4 kHz
carrier is in band). Both channels carry the same signal; the left output feeds the line
driver. Wiring: BCK <- I2S SCK, LRCK <- I2S WS, DIN <- I2S SD, SCK tied low, FMT low (I2S),
XSMT high. At 345.6 kHz x 32 bits BCK is 11.06 MHz.

Same interface as DacModulator (12-bit codes, mid-scale = profile.DAC_MID):
    mod = I2sModulator(1, 27, 14, 13, Pin(4, Pin.OUT))
    await mod.play(samples)
    await mod.play_symbols(symbols, nsym, table, sps)   # sample = table[symbols[i]*sps + s]
    mod.tx_on() / mod.tx_off()
Codes are mapped to signed 16-bit as (code - mid) << (16 - dac_bits).
"""

import asyncio
from array import array

import micropython
from micropython import const

try:
    from machine import I2S, Pin
except ImportError:
    I2S = None

_FRAME_BYTES = const(4)  # 16-bit stereo

# state words, as in stm32_dac_tx
_S_I = const(0)
_S_N = const(1)
_S_K = const(2)
_S_SPS = const(3)
_S_MID = const(4)
_S_SH = const(5)


class I2sModulator:
    """I2S TX to a PCM5102A, streamed from a symbol waveform table; line-driver enable pin."""

    def __init__(
        self,
        i2s_id,
        sck,
        ws,
        sd,
        tx_enable=None,
        sample_rate=None,
        block=1024,
        ibuf=32768,
        mid=None,
        dac_bits=None,
        enable_lead_ms=1,
    ):
        if I2S is None:
            raise OSError("I2sModulator needs machine.I2S")
        if sample_rate is None or mid is None or dac_bits is None:
            from phy import profile

            sample_rate = sample_rate or profile.TX_SAMPLE_RATE_HZ
            mid = profile.DAC_MID if mid is None else mid
            dac_bits = dac_bits or profile.DAC_BITS
        self.sample_rate = sample_rate
        self._tx_en = tx_enable
        self._lead = enable_lead_ms
        self._id = i2s_id
        self._pins = (sck, ws, sd)
        self._ibuf = ibuf
        self._block = block
        self._buf = bytearray(block * _FRAME_BYTES)
        self._st = array("i", (0, 0, 0, 1, mid, 16 - dac_bits))
        self._one = bytearray(1)
        self._syms = self._one
        self._table = array("H", (mid,))
        self._i2s = None
        self._writer = None
        self._lock = asyncio.Lock()
        # time the DMA ring needs to play out, for the line-driver switch-off
        self._ring_ms = (ibuf // _FRAME_BYTES) * 1000 // sample_rate + 1
        self.tx_off()

    def tx_on(self):
        if self._tx_en is not None:
            self._tx_en.value(1)

    def tx_off(self):
        if self._tx_en is not None:
            self._tx_en.value(0)

    def _open(self):
        if self._i2s is not None:
            return
        sck, ws, sd = (Pin(p) if isinstance(p, int) else p for p in self._pins)
        self._i2s = I2S(
            self._id,
            sck=sck,
            ws=ws,
            sd=sd,
            mode=I2S.TX,
            bits=16,
            format=I2S.STEREO,
            rate=self.sample_rate,
            ibuf=self._ibuf,
        )
        self._writer = asyncio.StreamWriter(self._i2s, {})

    def close(self):
        if self._i2s is not None:
            self._i2s.deinit()
            self._i2s = None
            self._writer = None

    @micropython.viper
    def _fill(self, out: ptr16, n: int) -> int:
        """n stereo frames of the next samples (silence once the source ends); 1 when done."""
        st = ptr32(self._st)
        syms = ptr8(self._syms)
        tab = ptr16(self._table)
        i = st[_S_I]
        nsym = st[_S_N]
        k = st[_S_K]
        sps = st[_S_SPS]
        mid = st[_S_MID]
        sh = st[_S_SH]
        j = 0
        while j < n and i < nsym:
            v = (tab[syms[i] * sps + k] - mid) << sh
            out[2 * j] = v
            out[2 * j + 1] = v
            j += 1
            k += 1
            if k == sps:
                k = 0
                i += 1
        while j < n:
            out[2 * j] = 0
            out[2 * j + 1] = 0
            j += 1
        st[_S_I] = i
        st[_S_K] = k
        return int(i >= nsym)

    async def play_symbols(self, symbols, nsym, table, sps):
        """Send nsym symbols: symbol i is table[symbols[i]*sps : +sps] (12-bit DAC codes)."""
        if nsym < 1 or sps < 1 or len(symbols) < nsym:
            raise ValueError("symbols")
        async with self._lock:
            self._open()
            st = self._st
            self._syms = symbols
            self._table = table
            st[_S_I] = 0
            st[_S_N] = nsym
            st[_S_K] = 0
            st[_S_SPS] = sps
            self.tx_on()
            try:
                await asyncio.sleep_ms(self._lead)
                done = 0
                while not done:
                    done = self._fill(self._buf, self._block)
                    self._writer.write(self._buf)
                    await self._writer.drain()
                # one block of silence, then let the DMA ring play out before switching off
                self._fill(self._buf, self._block)
                self._writer.write(self._buf)
                await self._writer.drain()
                await asyncio.sleep_ms(self._ring_ms)
            finally:
                self.tx_off()

    async def play(self, samples, n=-1):
        """Send a prepared buffer of 12-bit codes once."""
        if n < 0:
            n = len(samples)
        self._one[0] = 0
        await self.play_symbols(self._one, 1, samples, n)
