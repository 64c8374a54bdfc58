"""Helpers for the contract tests (no tests here): switching the fake port modules in and out of
sys.path, and a READ of the status word through a built meter.

The fakes (host_tests/mp/fakes/<port>/) shadow `machine`, `pyb`, `stm` and `esp32` only inside
the contract-test process and only while a test selected them with use_port(): the unix port's
`machine` is an extensible built-in, so a file of that name earlier on sys.path wins. Nothing
else puts host_tests/mp/fakes/<port> on the path (MICROPYPATH has host_tests/mp, where `fakes`
is a package, never a module named like a port's).
"""

import asyncio
import sys

from clock import ManualClock
from drivers.sim.script_phy import ScriptPhy

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


def read_request(aca, obj):
    """A direct (no repeater) READ.REQ frame for object `obj`, byte by byte as docs/datalink.md
    §1 and docs/datamodel.md give it, written here without the firmware's codec:
    LT | ACA(6) | CTL 0x21 (discipline 2, no route) | RSV 0x00 (downlink) | INFCTL 0x01 (poll)
    | DSAP/ECC 0x00 | ATTR 0x02 (READ.REQ) | object id (2, big-endian)."""
    body = bytes(aca) + b"\x21\x00\x01\x00\x02" + bytes((obj >> 8, obj & 0xFF))
    return bytes((len(body),)) + body


async def _exchange(meter, phy, clock, frame, limit_ms):
    meter.start()
    phy.push(frame, clock.now_ms())
    for _ in range(limit_ms):
        for _ in range(4):
            await asyncio.sleep_ms(0)
        if phy.sent:
            break
        clock.advance(1)
    meter.supervisor.stop()
    await asyncio.sleep_ms(0)


def read_status_word(hw, cfg, limit_ms=2000):
    """Build app.Meter on `hw` with a ScriptPhy on simulated time, send READ 0x003F, return
    (answer frames, meter)."""
    from app import Meter

    clock = ManualClock(1000)
    hw.clock = clock
    phy = hw.phy = ScriptPhy(clock)
    meter = Meter(hw, cfg)
    asyncio.run(_exchange(meter, phy, clock, read_request(meter.aca, 0x003F), limit_ms))
    return [s[2] for s in phy.sent], meter
