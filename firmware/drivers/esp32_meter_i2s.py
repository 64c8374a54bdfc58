"""ESP32 direct-ADC metering capture: a stereo delta-sigma ADC (V left, I right) on the second
I2S port, decimated to 4 kHz pairs of 12-bit codes for metrology.adc_frontend.

What the ESP32 allows (docs/metrology_adc.md "Boards"): MicroPython has no continuous mode for
the ESP32's own ADC (machine.ADC is one-shot, micropython#8527) and its timer callbacks are soft
IRQs with ms of jitter, so the ADC cannot be paced from Python. The PHY already uses I2S0 with an
AD7476A in the left slot (drivers/esp32_i2s_capture.py); its right slot could carry one more
AD7476A (its /CS on the inverted WS, SDATA shared: both three-state after 16 clocks), but that
is one channel, and metering needs two sampled together. So the meter uses I2S1 with a stereo
audio ADC that needs no system clock, such as the TI PCM1809 (both channels sampled at the same
instant; in target mode its PLL derives every internal clock from BCLK, 64 x fs = 1.024 MHz
here): machine.I2S on the ESP32 drives no master clock (ports/esp32/machine_i2s.c leaves
`mclk` unused, and `mck=` exists only where MICROPY_PY_MACHINE_I2S_MCK is set: mimxrt), so a
part that wants one (PCM1808: SCKI = 256 fs) cannot be clocked from Python here.
    I2S1 SCK -> BCLK, WS -> FSYNC, SD <- DOUT; I2S format, target mode
at 16 kHz, 32-bit slots (the sample MSB-aligned, its top 24 bits used). Every 4 stereo frames are
averaged into one pair (a boxcar: -0.07 % at 50 Hz, -1.1 % at 650 Hz on both channels alike, so
it falls in the gain calibration and P, Q see no phase error between V and I), the top 12 bits
kept, offset to 0..4095 codes as a 12-bit ADC gives them.

A task must keep the I2S buffer drained: `await src.run()` (metrology.adc_frontend hands it on
as the front-end's run(), which the metering feature supervises); take() then hands out the
completed blocks without blocking. The ring holds `nblocks` blocks (1.6 s by
default); blocks overwritten before take() came are counted in `overruns`.

    src = MeterI2s(1, sck=26, ws=25, sd=35)
    src.start(); asyncio.create_task(src.run())
    blk = src.take()     # memoryview('h') of 2 * block codes, or None
"""

import asyncio
from array import array

import micropython

try:
    from machine import I2S, Pin
except ImportError:  # a port without machine.I2S: importable, not constructible
    I2S = None

_FRAME = 8  # bytes per stereo frame: two 32-bit slots


@micropython.viper
def _decimate(raw: ptr32, n: int, out: ptr16, dec: int, shift: int):
    # n output pairs from n * dec stereo frames: average, keep 12 bits, offset to 0..4095.
    # A ptr32 load is zero-extended on a 64-bit port: (x ^ 2^31) - 2^31 sign-extends it there
    # and is the identity on a 32-bit one
    b = 31
    sgn = 1 << b
    k = 0
    for j in range(n):
        sv = 0
        si = 0
        for _ in range(dec):
            sv += ((raw[k] ^ sgn) - sgn) >> 8  # the 24-bit sample of the slot word
            si += ((raw[k + 1] ^ sgn) - sgn) >> 8
            k += 2
        v = (sv >> shift) + 2048
        i = (si >> shift) + 2048
        out[2 * j] = 0 if v < 0 else (4095 if v > 4095 else v)
        out[2 * j + 1] = 0 if i < 0 else (4095 if i > 4095 else i)


class MeterI2s:
    def __init__(self, i2s_id, sck, ws, sd, fs_in=16000, decim=4, block=160, nblocks=40):
        if I2S is None:
            raise OSError("MeterI2s needs machine.I2S")
        self.fs = fs_in // decim
        self.block = block
        self.nblocks = nblocks
        self.overruns = 0
        self._id = i2s_id
        self._pins = (sck, ws, sd)
        self._fs_in = fs_in
        self._dec = decim
        if decim < 1 or decim & (decim - 1):
            raise ValueError("decim: a power of two")
        # 24-bit samples summed over `decim` frames -> 12 bits: shift by 12 + log2(decim)
        self._shift = 12
        while (1 << (self._shift - 12)) < decim:
            self._shift += 1
        self._raw = bytearray(block * decim * _FRAME)
        self._rawmv = memoryview(self._raw)
        self._ring = array("h", bytearray(4 * block * nblocks))
        mv = memoryview(self._ring)
        self._blocks = tuple(mv[2 * k * block : 2 * (k + 1) * block] for k in range(nblocks))
        self._w = 0  # blocks written
        self._r = 0  # blocks handed out
        self._got = 0
        self._i2s = None
        self._reader = None

    def start(self):
        if self._i2s is not None:
            return
        sck, ws, sd = (p if not isinstance(p, int) else Pin(p) for p in self._pins)
        kw = dict(sck=sck, ws=ws, sd=sd, mode=I2S.RX, bits=32, format=I2S.STEREO)
        self._i2s = I2S(self._id, rate=self._fs_in, ibuf=len(self._raw) * 4, **kw)
        self._reader = asyncio.StreamReader(self._i2s)

    def stop(self):
        if self._i2s is not None:
            self._i2s.deinit()
            self._i2s = None
            self._reader = None

    async def pump(self):
        """Read what the I2S has (waiting for some); decimate each completed block."""
        n = await self._reader.readinto(self._rawmv[self._got :])
        if n:
            self._got += n
        if self._got == len(self._raw):
            self._got = 0
            if self._w - self._r >= self.nblocks:  # the oldest unread block is overwritten
                self.overruns += 1
                self._r += 1
            b = self._blocks[self._w % self.nblocks]
            _decimate(self._raw, self.block, b, self._dec, self._shift)
            self._w += 1

    async def run(self):
        self.start()
        while True:
            await self.pump()

    def take(self):
        """The oldest decimated block not yet handed out, or None."""
        if self._r >= self._w:
            return None
        b = self._blocks[self._r % self.nblocks]
        self._r += 1
        if self._r >= self.nblocks:  # keep the counters small
            self._r -= self.nblocks
            self._w -= self.nblocks
        return b
