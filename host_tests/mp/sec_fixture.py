"""Shared by the security tests: example keys/ACA of docs/smitp_security.md, a dict store, and
requests built with the firmware's primitives (the independent check is the CPython
`cryptography` reference in host_tests/py/smitp_sec_ref.py)."""

from smitp import crypto, security, tmac

ACA = bytes((0x01, 0x02, 0x03, 0x04, 0x05, 0x06))
K_WRITE = bytes(range(0x00, 0x10))
K_READ = bytes(range(0x10, 0x20))
T_NOW = 836_000_000  # 2026-06-28 22:13:20 UTC in seconds since 2000: the meter clock


class DictStore:
    """The store's get/put contract in RAM; `fail` makes put raise like a dead flash."""

    def __init__(self):
        self.d = {}
        self.puts = 0
        self.fail = False

    def get(self, key, default=None):
        return self.d.get(key, default)

    def put(self, key, value):
        if self.fail:
            raise OSError(5)
        self.d[key] = bytes(value)
        self.puts += 1


def make(store=None, window=security.LMON_WINDOW, seconds=None):
    store = DictStore() if store is None else store
    now = seconds or (lambda: T_NOW)
    return security.Security(store, ACA, (K_WRITE, K_READ), now, window), store


def request(attr, data, mon, ecc, dt=b"\x00" * 8, kw=K_WRITE, kr=K_READ, aca=ACA):
    """ATTR | E(DATA | DT | TMAC) as a concentrator sends it."""
    key = kw if ecc & 4 else kr
    t = tmac.tmac(key, attr, aca, mon, tmac.crc32(aca + data + dt))
    plain = data + dt + t
    if ecc & 3 == 2:
        enc = crypto.ecb_encrypt(key, plain)
    else:
        enc = crypto.ctr(key, tmac.ctr_iv(aca, mon), plain)
    return bytes((attr,)) + enc


class Relay:
    def state(self):
        return True

    def fault(self):
        return False


class Rtc:
    """RTC contract (`seconds()`); `now()` for register getters that still use it."""

    def __init__(self, t):
        self.t = t

    def seconds(self):
        return self.t

    def now(self):
        return self.t


class Hw:
    name = "test"

    def __init__(self, t):
        self.relay = Relay()
        self.rtc = Rtc(t)


class Stack:
    """What app.Meter wires for DSAP 0 (Store, Security, al.Application, mac.link.Mac), over a
    RAM NOR flash or a given block device, with a fixed clock: the register getters read this
    object like a Meter. exchange(frame) feeds one request frame and returns the answer frame."""

    def __init__(self, flash=None, window=security.LMON_WINDOW, t=T_NOW):
        from datamodel.model import Model
        from drivers.sim.air import airtime_ms
        from faults import Faults
        from mac.link import Mac
        from mac.params import Params
        from selftest import RamFlash
        from smitp import al
        from store import Store
        from wallclock import WallClock

        self.flash = flash if flash is not None else RamFlash(1024, 3)
        self.store = Store(self.flash)
        self.hw = Hw(t)
        self.cfg = {"serial": "MM42"}
        self.aca = ACA
        self.boots = 2
        self.store_recovered = False
        self.sec = security.Security(
            self.store, ACA, (K_WRITE, K_READ), self.hw.rtc.seconds, window
        )
        self.wallclock = WallClock(self.hw.rtc)
        self.bnode = None
        self.model = Model(self, self.store)
        self.al = al.Application(self)
        self.mac = Mac(
            ACA,
            airtime_ms,
            rng=lambda bits: 0,
            app=self.al.handle,
            params=Params(dup_ms=0),
            faults=Faults(strict=True),  # an exception in the stack fails the caller
        )
        self.t_ms = 0

    def exchange(self, frame):
        self.t_ms += 10_000
        self.mac.on_rx(frame, None, self.t_ms)
        return self.mac.poll(self.t_ms + 5_000)


def frame(lsdu, ecc, disc=8, addr=ACA):
    """Request frame per docs/datalink.md §1: no route, downlink, tag 0, hop 0, poll 1, DSAP 0."""
    body = bytes(addr) + bytes(((disc << 4) | 1, 0, 1, ecc)) + bytes(lsdu)
    return bytes((len(body),)) + body
