"""MicroPython side of `make bench-heap` (bench/bench_heap.py runs it; figures only).

    micropython -X heapsize=4M bench/heap_mp.py FRONTEND FEATURES WARMUP_S WINDOW_S START

Builds a real unix_sim meter (boards.unix_sim.build: the STPM3x driver on the simulated IC,
or the direct-ADC front-end on synthesised codes) with the features named in FEATURES (comma
separated, from calib,energy,tariff,profiles,cutoff,display; energy is always on), runs it on
virtual time and prints one JSON line of heap figures.

Virtual time: asyncio's own clock (`asyncio.core.ticks`) is replaced by a counter that the
loop's idle wait advances instead of sleeping, so every task sleeps through asyncio.sleep_ms
exactly as on a board (hw.clock is the boards' clock.Clock on that counter) and a simulated
day takes seconds. Nothing here allocates per step.

Measurement: GC off; a listener appended after every feature's records gc.mem_alloc() at the
end of each metering second; the difference between two marks is everything the meter's tasks
allocated in between (the energy task's read, booking, listeners, sleeps; the display refresh;
the watchdog feeder; housekeeping). What the simulation itself allocates (the simulated IC
behind the serial port, the waveform synthesis, the flash files, the display's state file) is
counted apart through thin proxies and subtracted. Seconds in which a checkpoint, a profile
record, a daily snapshot or a billing close happened are reported per event, not in the
steady state. A manual gc.collect() runs in the mark (after its reading) when the heap fills.
"""

import asyncio
import asyncio.core as _core
import gc
import json
import sys
import time
from array import array

# --- virtual time ------------------------------------------------------------------------------


class VT:
    # ahead of the host's ticks for ever, so a task pushed "now" by the C task queue (real
    # ticks) is always due at once
    now = time.ticks_ms() + (1 << 40)
    now_calls = 0  # hw.clock.now_ms() calls (each a long int past 2**30 ms on 32-bit ports)
    rtc_calls = 0  # of which through the RTC (unix_sim's follows the clock)


def _ticks():
    return VT.now


_wait0 = _core.IOQueue.wait_io_event


def _wait(self, dt):
    if dt > 0:
        VT.now += dt
    _wait0(self, 0)


_core.ticks = _ticks
_core.IOQueue.wait_io_event = _wait

from clock import Clock  # noqa: E402


class VClock(Clock):
    """The boards' clock (sleep_ms as on a board) reading the virtual ticks."""

    def __init__(self, until_ms=None):
        self._t0 = VT.now
        self.jumps = 0

    def now_ms(self):
        VT.now_calls += 1
        return VT.now - self._t0


class RtcCount:
    """hw.rtc, counting reads (unix_sim's RTC reads the clock; a board's does not)."""

    def __init__(self, rtc):
        self._r = rtc

    def seconds(self):
        VT.rtc_calls += 1
        return self._r.seconds()

    def set(self, seconds):
        self._r.set(seconds)


# --- the simulation's own allocations, counted apart ---------------------------------------------


class H:
    bytes = 0  # allocated inside simulated hardware (subtracted from the meter's figures)


_alloc = gc.mem_alloc


class SerialAcct:
    def __init__(self, s):
        self._s = s
        self.baudrate = s.baudrate

    def configure(self, baudrate, bits=8, parity=None, stop=1):
        a = _alloc()
        self._s.configure(baudrate, bits, parity, stop)
        self.baudrate = baudrate
        H.bytes += _alloc() - a

    def write(self, buf):
        a = _alloc()
        n = self._s.write(buf)
        H.bytes += _alloc() - a
        return n

    def readinto(self, buf):
        a = _alloc()
        n = self._s.readinto(buf)
        H.bytes += _alloc() - a
        return n

    def any(self):
        a = _alloc()
        n = self._s.any()
        H.bytes += _alloc() - a
        return n

    def tx_idle(self):
        return True


class SourceAcct:
    def __init__(self, src):
        self._s = src
        self.fs = src.fs

    def take(self):
        a = _alloc()
        b = self._s.take()
        H.bytes += _alloc() - a
        return b


class FlashAcct:
    def __init__(self, f):
        self._f = f
        self.programmed = 0  # bytes written since the window started (wear)
        self.erases = 0

    def readblocks(self, block, buf, offset=0):
        a = _alloc()
        self._f.readblocks(block, buf, offset)
        H.bytes += _alloc() - a

    def writeblocks(self, block, buf, offset=None):
        a = _alloc()
        self._f.writeblocks(block, buf, offset)
        self.programmed += len(buf)
        H.bytes += _alloc() - a

    def ioctl(self, op, arg):
        a = _alloc()
        r = self._f.ioctl(op, arg)
        if op == 6:
            self.erases += 1
        H.bytes += _alloc() - a
        return r

    def __getattr__(self, name):
        return getattr(self._f, name)


# --- the meter -----------------------------------------------------------------------------------

SCENARIO = "bench/data/heap_load.json"  # a simple endless load: the simulated IC stays cheap
FEATURES = ("calib", "energy", "tariff", "profiles", "cutoff", "display")
_MODULES = {
    "calib": "metrology.calib",
    "tariff": "tariff",
    "profiles": "profiles",
    "cutoff": "cutoff",
    "display": "screens.feature",
}


def _none(meter):
    return []


def build(frontend, features, start, state):
    """A unix_sim meter (boards.unix_sim.build) with only `features` attached."""
    for f, mod in _MODULES.items():
        if f not in features:
            __import__(mod)
            sys.modules[mod].attach = _none  # app.Meter imports attach at build time
    import drivers.sim.simclock as simclock

    simclock.SimClock = VClock
    import config
    from app import Meter

    from boards import unix_sim

    cfg = config.load(
        None,
        {
            "state_dir": state,
            "sim_start": start,
            "metrology": frontend,
            "scenario": SCENARIO,
            "display": "segment",
        },
    )
    hw = unix_sim.build(cfg)
    hw.rtc = RtcCount(hw.rtc)
    hw.flash = FlashAcct(hw.flash)
    hw.profile_flash = FlashAcct(hw.profile_flash)
    met = hw.metrology
    if frontend == "stpm":
        met._ser = SerialAcct(met._ser)
    else:
        met._src = SourceAcct(met._src)
    if hw.display is not None:
        hw.display.path = None  # the simulated glass's state file is the simulation's
    return Meter(hw, cfg, strict=False)


_NL = 8  # listeners at most
_NE = 7  # event counters per second (Marks.events)
_LOW_FREE = 1536 * 1024  # collect (in the mark, after its reading) below this much free heap


class Marks:
    """Per metering second: heap after the previous mark, the simulation's share, events."""

    def __init__(self, meter, n):
        self.m = meter
        self.n = n
        self.i = -1  # -1: not started
        self.before = array("i", bytes(4 * n))
        self.after = array("i", bytes(4 * n))
        self.sim = array("i", bytes(4 * n))
        self.ev = array("i", bytes(4 * n * _NE))
        self.t = array("i", bytes(4 * n))
        self.listener = array("i", bytes(4 * _NL * n))

    def events(self, k):
        # checkpoints, load-profile and measurand records, daily snapshots, billing closes,
        # demand blocks (their maxima may be saved), B-Node updates (housekeeping, 15 min)
        m = self.m
        e = self.ev
        o = _NE * k
        e[o] = m.energy.checkpoints
        p = getattr(m, "profiles", None)
        lp = None if p is None else p.lp
        e[o + 1] = 0 if lp is None else lp.closed
        e[o + 2] = 0 if lp is None else p.mp.closed
        e[o + 3] = 0 if lp is None else p.daily_ring.end
        b = getattr(m, "billing", None)
        e[o + 4] = 0 if b is None else b.closes
        e[o + 5] = 0 if b is None else b.block
        bn = m.bnode
        e[o + 6] = 0 if bn is None else bn.last_attempt

    def mark(self, t):
        a = _alloc()
        i = self.i
        if 0 <= i < self.n:
            self.before[i] = a
            self.sim[i] = H.bytes
            self.t[i] = t
            self.events(i)
            if gc.mem_free() < _LOW_FREE:
                gc.collect()
            self.after[i] = _alloc()
            self.i = i + 1

    def wrap(self, k, fn):
        acc = self.listener
        marks = self

        def w(t):
            a = _alloc()
            fn(t)
            b = _alloc()  # before reading acc: an array("q") item read allocates
            i = marks.i
            if 0 <= i < marks.n:
                acc[i * _NL + k] += b - a

        return w


async def _main(meter, marks, warmup, window):
    meter.start()
    e = meter.energy
    while e.seconds < warmup:
        await asyncio.sleep_ms(100)
    gc.collect()
    gc.disable()
    for f in (meter.hw.flash, meter.hw.profile_flash):
        f.programmed = f.erases = 0
    VT.now_calls = VT.rtc_calls = 0
    marks.i = 0
    while marks.i < marks.n:
        await asyncio.sleep_ms(100)
    gc.enable()
    meter.supervisor.stop()
    await asyncio.sleep_ms(0)


def _names(meter):
    """Which feature each on_second listener belongs to (bound methods hide their object)."""
    owners = []
    for attr in ("calibration", "tariffs", "billing", "profiles", "cutoff"):
        o = getattr(meter, attr, None)
        if o is not None:
            owners.append((attr, o))
    out = []
    for fn in meter.on_second:
        name = repr(fn)
        for attr, o in owners:
            for meth in ("on_second", "check"):
                if getattr(o, meth, None) == fn:
                    name = attr + "." + meth
        out.append(name)
    return out


def main():
    frontend = sys.argv[1]
    features = sys.argv[2].split(",")
    warmup = int(sys.argv[3])
    window = int(sys.argv[4])
    start = int(sys.argv[5])
    state = sys.argv[6]
    meter = build(frontend, features, start, state)
    marks = Marks(meter, window + 1)
    names = _names(meter)
    for k in range(len(meter.on_second)):
        meter.on_second[k] = marks.wrap(k, meter.on_second[k])
    meter.on_second.append(marks.mark)
    t0 = time.ticks_ms()
    asyncio.run(_main(meter, marks, warmup, window))
    real_ms = time.ticks_diff(time.ticks_ms(), t0)
    rows = []
    for i in range(1, marks.n):
        d = marks.before[i] - marks.after[i - 1]
        h = marks.sim[i] - marks.sim[i - 1]
        ev = []
        for j in range(_NE):
            ev.append(marks.ev[_NE * i + j] - marks.ev[_NE * (i - 1) + j])
        ls = []
        for k in range(len(names)):
            ls.append(marks.listener[i * _NL + k])
        rows.append((marks.t[i], d - h, h, ev, ls))
    out = {
        "frontend": frontend,
        "features": features,
        "rows": rows,
        "listeners": names,
        "real_ms": real_ms,
        "seconds": meter.energy.seconds,
        "failed": meter.energy.failed,
        "faults": meter.faults.count,
        "recent_faults": meter.faults.recent(),
        "wh": meter.energy.totals()[0],
        "flash": [meter.hw.flash.programmed, meter.hw.flash.erases],
        "profile_flash": [meter.hw.profile_flash.programmed, meter.hw.profile_flash.erases],
        "store": meter.store.stats(),
        "now_ms_calls": VT.now_calls - VT.rtc_calls,
    }
    print(json.dumps(out))


main()
