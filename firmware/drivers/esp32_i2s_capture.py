"""ESP32 continuous capture for the soft PHY: an external SAR ADC clocked by the I2S peripheral.

Why not the ESP32's own ADC: MicroPython's machine.ADC is one-shot (no DMA / continuous mode,
micropython#8527), and timer callbacks on the ESP32 are soft IRQs with tens of us to ms of
jitter, so Python-timed sampling is useless at 38.4 kHz.

Why this part: the PHY profile (phy/profile.py) *band-pass undersamples* the 86.4 kHz carrier at
RX_SAMPLE_RATE_HZ = 38.4 kHz (5th Nyquist zone, carrier aliased to fs/4); the coupler's
band-pass is the anti-alias filter. Audio codecs such as the PCM1808 or ES7210 cannot do that:
they are delta-sigma converters whose digital decimation filter removes everything above about
0.45 fs, so at 38.4 kHz the carrier would be filtered out, and none of them runs at the
>= 220 kHz a direct (non-undersampled) capture of the 77..96 kHz band would need. So we use a
12-bit SAR ADC with a serial interface, the **ADI AD7476A** (or its second source TI ADCS7476):
1 MSPS, 13.5 MHz full-power input bandwidth (its track-and-hold sees the real 86.4 kHz
carrier), conversion started by /CS falling, data shifted out MSB first on SCLK falling edges as
4 leading zeros + 12 bits. Wiring to the ESP32 I2S port in controller (master) RX mode:
    I2S WS  -> /CS     (WS low = left slot = 16 SCLK with /CS low = one conversion)
    I2S SCK -> SCLK    (38.4 kHz x 2 slots x 16 bit = 1.2288 MHz, AD7476A max 20 MHz)
    I2S SD  <- SDATA   (a 100 k pull-down: SDATA three-states after the 16th clock)
The sample instant is the WS edge, so the sample clock is the I2S clock (PLL-derived, a few ns
of jitter, 0.2 degrees of carrier phase at 86.4 kHz), not Python. Philips I2S samples the data
one SCK after the WS edge, so the captured left word is the ADC stream shifted left by one bit:
code = (word >> 1) & 0xFFF (`shift` argument; confirm on the first board with a DC input).

    cap = I2sCapture(0, 26, 25, 35)          # I2S id, sck, ws, sd (boards/esp32_devkitc.py)
    cap.start()
    half = await cap.read()                  # memoryview('H') of `block` 12-bit codes

Same interface as drivers/stm32_adc_dma.AdcDmaCapture: start(), stop(), async read(),
sample_rate, overruns. The view returned by read() stays valid until the read after next (two
output buffers alternate). Overruns cannot be read from the I2S driver (IDF drops the oldest
DMA buffers silently), so they are inferred: if more time passed between two reads than the
I2S DMA buffer holds, samples were lost.
"""

import asyncio
import time
from array import array

import micropython
from micropython import const

try:
    from machine import I2S, Pin
except ImportError:  # a port without machine.I2S: importable, not constructible
    I2S = None

_BYTES_PER_FRAME = const(4)  # 16-bit stereo frame: left = ADC word, right = idle slot


class I2sCapture:
    """Continuous AD7476A capture through machine.I2S RX; `await read()` yields blocks."""

    def __init__(self, i2s_id, sck, ws, sd, sample_rate=None, block=512, shift=1, ibuf=16384):
        if I2S is None:
            raise OSError("I2sCapture needs machine.I2S")
        if block < 16 or block & 1:
            raise ValueError("block")
        if sample_rate is None:
            from phy import profile

            sample_rate = profile.RX_SAMPLE_RATE_HZ
        self.sample_rate = sample_rate
        self.block = block
        self.overruns = 0
        self._id = i2s_id
        self._pins = (sck, ws, sd)
        self._shift = shift
        self._ibuf = ibuf
        self._i2s = None
        self._reader = None
        self._raw = bytearray(block * _BYTES_PER_FRAME)
        self._out = (array("H", bytearray(2 * block)), array("H", bytearray(2 * block)))
        self._views = (memoryview(self._out[0]), memoryview(self._out[1]))
        self._which = 0
        # how long the I2S DMA ring lasts; a longer gap between reads means lost samples
        self._ring_us = (ibuf // _BYTES_PER_FRAME) * 1000000 // sample_rate
        self._last_us = 0
        self._stall_ms = max(50, 4 * self._ring_us // 1000)  # no block for 4 ring times: dead
        self.stalls = 0

    @staticmethod
    def _pin(p):
        return p if not isinstance(p, int) else Pin(p)

    def start(self):
        if self._i2s is not None:
            return
        sck, ws, sd = self._pins
        self._i2s = I2S(
            self._id,
            sck=self._pin(sck),
            ws=self._pin(ws),
            sd=self._pin(sd),
            mode=I2S.RX,
            bits=16,
            format=I2S.STEREO,
            rate=self.sample_rate,
            ibuf=self._ibuf,
        )
        self._reader = asyncio.StreamReader(self._i2s)
        self._last_us = time.ticks_us()

    def stop(self):
        if self._i2s is not None:
            self._i2s.deinit()
            self._i2s = None
            self._reader = None

    @micropython.viper
    def _convert(self, raw: ptr16, out: ptr16, n: int, shift: int):
        # left slot of each stereo frame -> 12-bit code
        for i in range(n):
            out[i] = (raw[2 * i] >> shift) & 0xFFF

    async def read(self):
        """Next block of samples: memoryview('H') of `block` 12-bit codes."""
        if self._i2s is None:
            self.start()
        now = time.ticks_us()
        if time.ticks_diff(now, self._last_us) > self._ring_us:
            self.overruns += 1
        raw = memoryview(self._raw)
        got = 0
        need = len(self._raw)
        while got < need:
            try:
                n = await asyncio.wait_for_ms(self._reader.readinto(raw[got:]), self._stall_ms)
            except asyncio.TimeoutError:
                self.stalls += 1
                self.stop()  # the next read() starts the I2S afresh
                raise OSError(110)  # ETIMEDOUT: the I2S clock or the ADC stopped
            if n:
                got += n
        self._last_us = time.ticks_us()
        w = self._which
        self._which = w ^ 1
        self._convert(self._raw, self._out[w], self.block, self._shift)
        return self._views[w]
