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

Same interface as DacModulator (what phy.softphy.SoftPhy uses; 12-bit codes, mid-scale =
profile.DAC_MID):
    mod = I2sModulator(1, 27, 14, 13, Pin(4, Pin.OUT))
    await mod.send(samples, n)   # returns once the block is in the I2S DMA buffer
    await mod.wait_done()        # until the queued samples have played and the driver is off
    await mod.play(samples)      # send() in blocks, then wait_done()
    mod.tx_on() / mod.tx_off()
Codes are mapped to signed 16-bit as (code - mid) << (16 - dac_bits), written to both channels.
The I2S driver cannot say when its DMA ring has run dry, so the end of a burst is timed: the
line driver goes off once no send() came for as long as the queued samples take to play
(at most `ibuf` + one block, ~25 ms with the defaults); the DMA plays zeros (= mid-scale) when
starved, so the tail is silent.
"""

import asyncio
import time

import micropython
from micropython import const

try:
    from machine import I2S, Pin
except ImportError:
    I2S = None

_FRAME_BYTES = const(4)  # 16-bit stereo


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
        block=1152,  # phy.softphy sends 32 symbols x 36 samples per call
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
        self._mid = mid
        self._shift = 16 - dac_bits
        self._i2s = None
        self._writer = None
        self._lock = asyncio.Lock()
        # time the DMA ring plus one block need to play out, for the line-driver switch-off
        self._tail_ms = ((ibuf // _FRAME_BYTES) + block) * 1000 // sample_rate + 1
        self._off_at = 0
        self._offer = None
        self.bursts = 0
        # a drain that takes 4 ring playout times means the I2S clock stopped
        self._stall_ms = 4 * self._tail_ms
        self.stalls = 0
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
    def _convert(self, out: ptr16, src: ptr16, n: int, mid: int, sh: int):
        """n 12-bit codes -> n stereo frames of signed 16-bit samples."""
        for j in range(n):
            v = (src[j] - mid) << sh
            out[2 * j] = v
            out[2 * j + 1] = v

    async def _off_later(self):
        # switch the line driver off once nothing was queued for a whole playout time
        while True:
            left = time.ticks_diff(self._off_at, time.ticks_ms())
            if left <= 0:
                break
            await asyncio.sleep_ms(left)
        self.tx_off()
        self._offer = None

    async def send(self, samples, n=-1):
        """Queue n (<= block) 12-bit codes; returns once they are in the I2S DMA buffer."""
        if n < 0:
            n = len(samples)
        if n < 1 or n > self._block:
            raise ValueError("block of 1..%d samples" % self._block)
        async with self._lock:
            self._open()
            if self._offer is None:
                self.bursts += 1
                self.tx_on()
                await asyncio.sleep_ms(self._lead)  # line driver and coupler settle
                self._off_at = time.ticks_add(time.ticks_ms(), self._tail_ms)
                self._offer = asyncio.create_task(self._off_later())
            self._convert(self._buf, samples, n, self._mid, self._shift)
            self._writer.write(memoryview(self._buf)[: n * _FRAME_BYTES])
            try:
                await asyncio.wait_for_ms(self._writer.drain(), self._stall_ms)
            except asyncio.TimeoutError:
                self.stalls += 1
                self.close()  # the next send() opens the I2S afresh
                self.tx_off()
                raise OSError(110)  # ETIMEDOUT
            self._off_at = time.ticks_add(time.ticks_ms(), self._tail_ms)

    async def wait_done(self):
        while self._offer is not None:
            await asyncio.sleep_ms(1)

    async def play(self, samples, n=-1):
        """Send a whole buffer of 12-bit codes in blocks, then wait for the end."""
        if n < 0:
            n = len(samples)
        mv = memoryview(samples)
        p = 0
        while p < n:
            m = min(self._block, n - p)
            await self.send(mv[p:], m)
            p += m
        await self.wait_done()
