"""unix_sim PLC, sample-level mode: the firmware's soft B-PSK PHY (phy.softphy.SoftPhy) on
waveforms carried by the simulated medium (tools/medium.py, docs/simulation.md §8).

- SampleModulator collects the DAC codes SoftPhy.send() produces (TX rate, 345.6 kHz); the
  link ships the whole waveform to the medium as one `W` message at the frame's start time.
- The medium passes every waveform a meter hears through tools/channel.py and sends the ADC
  codes (RX rate, 38.4 kHz) of the frame's window as an `S` message at its end time;
  SampleCapture hands them to SoftPhy's receive loop, which decodes them.
Time, HELLO and IDLE work as in medium_link (frame mode); this is slow and meant for 2-3 nodes.
At most CAPTURE_MAX sample windows wait for the receiver; more are dropped (capture.dropped).
"""

import asyncio
import struct
from array import array

from micropython import const
from phy import profile

from drivers.sim.medium_link import MediumPhy

_MODE_SAMPLE = const(1)
CAPTURE_MAX = const(4)


class SampleCapture:
    sample_rate = profile.RX_SAMPLE_RATE_HZ

    def __init__(self):
        self._q = []
        self._ev = asyncio.Event()
        self.dropped = 0

    def start(self):
        pass

    def push(self, codes):
        if len(self._q) >= CAPTURE_MAX:
            self.dropped += 1
            return
        self._q.append(codes)
        self._ev.set()

    async def read(self):
        while not self._q:
            self._ev.clear()
            await self._ev.wait()
        return memoryview(self._q.pop(0))


class SampleModulator:
    sample_rate = profile.TX_SAMPLE_RATE_HZ

    def __init__(self):
        self.parts = []

    async def send(self, samples, n):
        self.parts.append(bytes(memoryview(samples)[:n]))  # uint16 host order (little endian)

    def take(self):
        b = b"".join(self.parts)
        self.parts = []
        return b


class _Info:
    def __init__(self, inf):
        self.rssi = inf.rssi
        self.snr = inf.snr  # quarter dB, as every PHY backend reports it
        self.in_phase = inf.in_phase
        self.t_ms = inf.t_ms
        self.t_end_ms = inf.t_end_ms
        self.tx_imp = None


class MediumSamplePhy(MediumPhy):
    MODE = _MODE_SAMPLE

    def __init__(self, host, port, cfg, aca=None):
        super().__init__(host, port, cfg, aca)
        from phy.softphy import SoftPhy

        self.capture = SampleCapture()
        self.modulator = SampleModulator()
        self.soft = SoftPhy(self.capture, self.modulator, self.clock)

    async def send(self, frame):
        await self._ensure()
        now = self.clock.now_ms()
        await self.soft.send(frame)
        wave = self.modulator.take()
        body = b"W" + struct.pack(">I", now) + wave
        self._w.write(struct.pack(">HI", 0, len(body)) + body)  # long form: 0, u32 length
        await self._w.drain()
        self.frames_tx += 1
        n = len(wave) // 2
        ms = (n * 1000 + profile.TX_SAMPLE_RATE_HZ - 1) // profile.TX_SAMPLE_RATE_HZ
        await self.clock.sleep_ms(ms)

    async def recv(self):
        await self._ensure()
        frame, inf = await self.soft.recv()
        self.frames_rx += 1
        return bytes(frame), _Info(inf)

    def _on_event(self, kind, t, body):
        if kind == 0x53:  # 'S' t codes (uint16 little endian)
            codes = array("H", bytes(body[5:]))
            self.capture.push(codes)
            return True
        return False
