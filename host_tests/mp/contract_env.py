"""Helpers for the contract tests (no tests here): switching the fake port modules in and out of
sys.path, a frame-level fake PHY, and a READ of the status word through a built meter.

The fakes (host_tests/mp/fakes/<port>/) shadow `machine`, `pyb`, `stm` and `esp32` only inside
the contract-test process and only while a test selected them with use_port(): the unix port's
`machine` is an extensible built-in, so a file of that name earlier on sys.path wins. Nothing
else puts host_tests/mp/fakes/<port> on the path (MICROPYPATH has host_tests/mp, where `fakes`
is a package, never a module named like a port's).
"""

import asyncio
import sys

from clock import ManualClock
from drivers.sim.air import airtime_ms

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
FAKES = _HERE + "/fakes"
PORT_MODULES = ("machine", "pyb", "stm", "esp32")


def use_port(port):
    """Make fakes/<port> ("stm32", "esp32") the port modules, or None for the unix port's own.
    Drops every already-imported module that may have bound the previous port's objects."""
    for p in ("stm32", "esp32"):
        d = FAKES + "/" + p
        while d in sys.path:
            sys.path.remove(d)
    if port is not None:
        sys.path.insert(0, FAKES + "/" + port)
    for name in list(sys.modules):
        if name in PORT_MODULES or name.startswith(("drivers", "boards")):
            del sys.modules[name]


class RxInfo:
    def __init__(self, t_end_ms, t_ms, rssi=60, snr=40, in_phase=True):
        self.rssi = rssi
        self.snr = snr
        self.in_phase = in_phase
        self.t_ms = t_ms
        self.t_end_ms = t_end_ms


class FramePhy:
    """interfaces.Phy over queues: deliver() a frame to the meter, read `sent` for answers."""

    def __init__(self, clock):
        self.clock = clock
        self.rxq = []
        self.sent = []
        self._ev = asyncio.Event()

    def airtime_ms(self, n):
        return airtime_ms(n)

    def deliver(self, frame):
        now = self.clock.now_ms()
        self.rxq.append((bytes(frame), RxInfo(now, now)))
        self._ev.set()

    async def send(self, frame):
        self.sent.append(bytes(frame))

    async def recv(self):
        while not self.rxq:
            self._ev.clear()
            await self._ev.wait()
        return self.rxq.pop(0)


def read_request(aca, obj):
    """A direct (no repeater) READ.REQ frame for object `obj`, byte by byte as docs/datalink.md
    §1 and docs/datamodel.md give it, written here without the firmware's codec:
    LT | ACA(6) | CTL 0x21 (discipline 2, no route) | RSV 0x00 (downlink) | INFCTL 0x01 (poll)
    | DSAP/ECC 0x00 | ATTR 0x02 (READ.REQ) | object id (2, big-endian)."""
    body = bytes(aca) + b"\x21\x00\x01\x00\x02" + bytes((obj >> 8, obj & 0xFF))
    return bytes((len(body),)) + body


async def _exchange(meter, phy, clock, frame, limit_ms):
    meter.start()
    phy.deliver(frame)
    for _ in range(limit_ms):
        for _ in range(4):
            await asyncio.sleep_ms(0)
        if phy.sent:
            break
        clock.advance(1)
    meter.supervisor.stop()
    await asyncio.sleep_ms(0)


def read_status_word(hw, cfg, limit_ms=2000):
    """Build app.Meter on `hw` with a FramePhy on simulated time, send READ 0x003F, return
    (answer frames, meter)."""
    from app import Meter

    clock = ManualClock(1000)
    hw.clock = clock
    phy = hw.phy = FramePhy(clock)
    meter = Meter(hw, cfg)
    asyncio.run(_exchange(meter, phy, clock, read_request(meter.aca, 0x003F), limit_ms))
    return phy.sent, meter
