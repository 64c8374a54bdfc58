"""SoftPhy: the PHY interface of the architecture on top of phy.tx / phy.rx.

    phy = SoftPhy(capture, modulator, clock=None)
    await phy.send(frame)             # returns when the modulator has taken the last block
    frame, info = await phy.recv()    # info.rssi dBuV, .snr quarter-dB, .in_phase, .t_ms,
                                      # .t_end_ms (frame end on the air, same clock)
    phy.airtime_ms(nbytes)            # time on air of an n-byte frame, ms (rounded up)
    phy.kernel_fault                  # None, or why the asm_thumb kernels did not load
    phy.overruns                      # capture half-buffers lost (capture.overruns), 0 if none

Duck-typed drivers: capture.start(), await capture.read() -> memoryview of uint16 ADC codes
(one half of a DMA ring), capture.sample_rate; modulator.sample_rate and
await modulator.send(samples_u16, n) called block by block from a preallocated buffer.
Received frames are copied into a small pool of preallocated buffers; recv() returns a
memoryview of one (valid until `pool` more frames arrive).
"""

import asyncio
from array import array

from phy import kernel, profile
from phy.rx import Receiver
from phy.tx import Transmitter

_BLOCK = 36 * 32  # TX samples per modulator call (32 symbols, 3.3 ms)


class RxInfo:
    __slots__ = ("rssi", "snr", "in_phase", "t_ms", "t_end_ms", "length")

    def __init__(self):
        self.rssi = 0
        self.snr = 0
        self.in_phase = None
        self.t_ms = 0
        self.t_end_ms = 0
        self.length = 0


class SoftPhy:
    def __init__(self, capture, modulator, clock=None, pool=4):
        if capture.sample_rate != profile.RX_SAMPLE_RATE_HZ:
            raise ValueError("capture sample rate")
        if modulator.sample_rate != profile.TX_SAMPLE_RATE_HZ:
            raise ValueError("modulator sample rate")
        self.capture = capture
        self.modulator = modulator
        self.clock = clock
        self.rx = Receiver(self._on_frame)
        self.tx = Transmitter()
        self.txbuf = array("H", bytearray(2 * _BLOCK))
        self.bufs = [bytearray(profile.MAX_PAYLOAD) for _ in range(pool)]
        self.views = [memoryview(b) for b in self.bufs]
        self.infos = [RxInfo() for _ in range(pool)]
        self.head = 0  # next slot to fill
        self.count = 0
        self.flag = asyncio.ThreadSafeFlag()
        self.dropped = 0
        self._task = None
        self._t_read = 0  # clock at the latest capture block (taken as the time its last sample
        # was sampled: the DMA half-complete interrupt wakes the task; its latency makes
        # t_end_ms late by that much, never early)

    def airtime_ms(self, nbytes):
        """Time on air of an nbytes frame on this PHY in ms, rounded up (docs/phy.md)."""
        return (profile.airtime_us(nbytes) + 999) // 1000

    @property
    def kernel_fault(self):
        """None, or why the asm_thumb kernels this port needs did not load (phy.kernel)."""
        return kernel.FAULT

    @property
    def overruns(self):
        """Capture half-buffers overwritten before they were read (the capture's counter)."""
        return getattr(self.capture, "overruns", 0)

    def _on_frame(self, buf, n, rx):
        if self.count >= len(self.bufs):
            self.dropped += 1
            return
        i = self.head
        dst = self.bufs[i]
        for k in range(n):
            dst[k] = buf[k]
        inf = self.infos[i]
        inf.length = n
        inf.rssi = rx.rssi
        inf.snr = rx.snr
        inf.in_phase = None
        t = self.clock.now_ms() if self.clock is not None else 0
        inf.t_ms = t
        # the block's last sample is at _t_read; the frame ended samples_after_end() before it
        te = self._t_read - (rx.samples_after_end() * 1000) // profile.RX_SAMPLE_RATE_HZ
        inf.t_end_ms = te if te < t else t
        self.head = (i + 1) % len(self.bufs)
        self.count += 1
        self.flag.set()

    async def _rx_loop(self):
        self.capture.start()
        while True:
            mv = await self.capture.read()
            if self.clock is not None:
                self._t_read = self.clock.now_ms()
            self.rx.feed(mv, len(mv))

    def start(self):
        if self._task is None:
            self._task = asyncio.create_task(self._rx_loop())

    async def send(self, frame):
        n = self.tx.prepare(frame)
        p = 0
        buf = self.txbuf
        while p < n:
            m = n - p
            if m > _BLOCK:
                m = _BLOCK
            self.tx.fill(buf, p, m)
            await self.modulator.send(buf, m)
            p += m
        return n

    async def recv(self):
        self.start()
        while self.count == 0:
            await self.flag.wait()
        i = (self.head - self.count) % len(self.bufs)
        self.count -= 1
        inf = self.infos[i]
        return self.views[i][: inf.length], inf
