"""Test fixture: a real app.Meter on simulated hardware (file flash, settable RTC, relay,
simulated B-Node), restartable on the same flash, plus request helpers for the AL."""

import os

import config
import storekeys
from app import Meter
from clock import ManualClock
from drivers.sim.bnode import SimBNode
from drivers.sim.flash import SimFlash
from hw import Hardware

T0 = 850_000_000  # 2026-12-08 UTC, seconds since 2000


class FixedRtc:
    """An RTC that moves only when told (tests compare state, so time must not run)."""

    def __init__(self, t=T0):
        self.t = t

    def seconds(self):
        return self.t

    def set(self, seconds):
        self.t = seconds


class Relay:
    """The relay as the AL uses it (open/close/state/fault), switching at once: the real driver
    pulses its coil from an asyncio task, which these synchronous tests do not run."""

    def __init__(self):
        self.closed = True

    def open(self):
        self.closed = False

    def close(self):
        self.closed = True

    def state(self):
        return self.closed

    def fault(self):
        return False


class Phy:
    """Only what the MAC asks of a PHY outside the asyncio tasks: the time on air of a frame."""

    def airtime_ms(self, n):
        return 20 + (n * 8 * 1000 + 4799) // 4800


class Ctx:
    def __init__(self, ecc=0, poll=1, disc=7, broadcast=False, slots=0):
        self.ecc = ecc
        self.ecc_out = ecc
        self.poll = poll
        self.disc = disc
        # docs/datalink.md §4: the LSDU limit of each discipline nibble
        self.max_resp = (0, 0, 20, 40, 60, 80, 100, 120, 128, 20, 30, 50, 90, 90, 90, 90)[disc]
        self.broadcast = broadcast
        self.slots = slots


def _rm(path):
    try:
        os.remove(path)
    except OSError:
        pass


class Bench:
    def __init__(self, name, bnode=True):
        # a directory of its own, so two test runs at the same time never share a flash file
        self.dir = "build/test_%s_%s" % (name, os.urandom(4).hex())
        for d in ("build", self.dir):
            try:
                os.mkdir(d)
            except OSError:
                pass
        self.rtc = FixedRtc()
        self.clock = ManualClock()
        self.bnode_dev = SimBNode() if bnode else None
        self.meter = self.boot()

    def hardware(self):
        """The simulated hardware of one boot (subclasses add peripherals)."""
        hw = Hardware(
            "unix_sim",
            clock=self.clock,
            flash=SimFlash(self.dir + "/flash.bin", 4096, 8),
            rtc=self.rtc,
            relay=Relay(),
            phy=Phy(),
        )
        if self.bnode_dev is not None:
            hw.bnode = self.bnode_dev
        return hw

    def boot(self):
        """(Re)start the meter on the same flash, RTC and B-Node (a power cycle)."""
        cfg = config.load(None, {"seed": 1})
        self.meter = Meter(self.hardware(), cfg)
        return self.meter

    def close(self):
        _rm(self.dir + "/flash.bin")
        try:
            os.rmdir(self.dir)
        except OSError:
            pass

    def req(self, lsdu, **kw):
        return self.meter.al.handle(memoryview(bytes(lsdu)), Ctx(**kw))

    def snapshot(self):
        """The meter's whole state: (store except LMON, data model, clock, LMON). An accepted
        authenticated request legitimately moves LMON (security layer), so tests of refusals
        after authentication compare [:3]."""
        m = self.meter
        st = m.store
        kv = tuple((k, st.get(k)) for k in st.keys() if k != storekeys.LMON)
        return (kv, m.model.snapshot(), (self.rtc.t, m.wallclock.synced), m.sec.lmon)
