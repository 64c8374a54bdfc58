"""Load profile, measurand profile and daily snapshots (issue #11.6; docs/profiles.md).

    from profiles import attach as _a; tasks += _a(self)      # app.Meter._attach_features

attach(meter) puts three FlashRings on the board's profile flash (hw.profile_flash; a board
without one records no profiles and its tables read empty), makes them the data model's tables
0x0500, 0x1100 and 0x0503 (so READTAB / READTAB-sel / BUFF_SELECT read them), and hooks one
listener into meter.on_second (no task of its own). Energies come from meter.energy (Seam D),
local time, DST and the tariff from meter.tariffs (Seam C). The open intervals are committed to
the store at each load-profile close and by meter.savers on supply loss, so records add up to
the registers' change across power cuts.
"""

import struct

import storekeys
from datamodel import events
from datamodel import registers as r

from profiles.daily import Daily
from profiles.load import LoadProfile, MeasurandProfile
from profiles.record import DAILY_SIZE, LP_SIZE, MP_SIZE, PDN, lost
from profiles.ring import FlashRing

_LP_STATE = ">iiiBiBIIII"  # start end count flags period channels A+ A- R+ R- at its start
_MP_STATE = ">iiiBiBiii"  # start end count flags period channels sums V I P
_LP_N = struct.calcsize(_LP_STATE)


def layout(n_blocks):
    """(first, n) of the load-profile, measurand-profile and daily rings on an n-block device:
    2 blocks for the days, the rest 4 : 3 between load and measurand profile."""
    if n_blocks < 6:
        raise ValueError("profile flash needs >= 6 blocks")
    rest = n_blocks - 2
    lp = rest * 4 // 7
    return (0, lp), (lp, rest - lp), (rest, 2)


class _Env:
    """What the recorders need from the meter, in one place (Seam C with its fallback)."""

    def __init__(self, meter):
        self.m = meter

    def local(self, t):
        tf = getattr(self.m, "tariffs", None)
        if tf is not None:
            return tf.local(t)
        # Seam C fallback until the calendar is attached: standard time from 0x0101, no DST
        from civiltime import datetime

        return datetime(t + self.m.model.get_int(0x0101) * 60) + (False,)

    def dst(self, t):
        tf = getattr(self.m, "tariffs", None)
        return bool(tf.local(t)[7]) if tf is not None else False

    def tariff(self, t):
        tf = getattr(self.m, "tariffs", None)
        return tf.current(t) if tf is not None else 0

    def clock_valid(self):
        return self.m.wallclock.valid()

    def failed(self, exc):
        self.m.faults.record(exc, "profiles")
        self.m.model.log(events.PROFILE_WRITE_FAILED)


class Profiles:
    def __init__(self, meter):
        self.meter = meter
        self.env = _Env(meter)
        self.lp = None
        self.mp = None
        self.daily = None
        self.reason = None
        dev = getattr(meter.hw, "profile_flash", None)
        if dev is None:
            self.reason = "no profile flash on this board"
            return
        (a, na), (b, nb), (c, nc) = layout(dev.ioctl(4, 0))
        self.lp_ring = FlashRing(dev, a, na, LP_SIZE, lost)
        self.mp_ring = FlashRing(dev, b, nb, MP_SIZE, lost)
        self.daily_ring = FlashRing(dev, c, nc, DAILY_SIZE, lost)
        tables = meter.model.tables
        tables[r.LOAD_PROFILE] = self.lp_ring
        tables[r.MEASURAND_PROFILE] = self.mp_ring
        tables[r.DAILY_SNAPSHOT] = self.daily_ring
        self._steps = meter.wallclock.steps
        # offsets of 0x0501, 0x0502 (block 0x05) and 0x1101, 0x1102 (block 0x11)
        self._off = tuple(
            r.find(x)[6] for x in (r.LP_PERIOD, r.LP_CHANNELS, r.MP_PERIOD, r.MP_CHANNELS)
        )

    def _param(self, i):
        return self.meter.model.blocks[(0x05, 0x05, 0x11, 0x11)[i]][self._off[i]]

    def _build(self, energy):
        m = self.meter
        self.lp = LoadProfile(self.lp_ring, LP_SIZE, self._param(0) * 60, 0, energy.totals)
        self.mp = MeasurandProfile(self.mp_ring, MP_SIZE, self._param(2) * 60, 0, m.metering)
        self.daily = Daily(self.daily_ring, energy, self.env)
        self._restore()

    def on_second(self, t):
        energy = getattr(self.meter, "energy", None)
        if energy is None:
            return
        if self.lp is None:
            self._build(energy)
        steps = self.meter.wallclock.steps
        stepped = steps != self._steps
        self._steps = steps
        env = self.env
        # the period and channel registers, straight from their block: nothing allocated
        b5 = self.meter.model.blocks[0x05]
        b11 = self.meter.model.blocks[0x11]
        o = self._off
        if self.lp.tick(t, stepped, b5[o[0]] * 60, b5[o[1]], env) >= 0:
            self.save()
        self.mp.tick(t, stepped, b11[o[2]] * 60, b11[o[3]], env)
        self.daily.tick(t, stepped)

    # --- persistence of the open intervals ----------------------------------------------------

    def state(self):
        lp = self.lp
        mp = self.mp
        return struct.pack(
            _LP_STATE, lp.start, lp.end, lp.count, lp.flags, lp.period_s, lp.channels,
            *lp.at_start
        ) + struct.pack(
            _MP_STATE, mp.start, mp.end, mp.count, mp.flags, mp.period_s, mp.channels,
            mp.sv, mp.si, mp.sp
        )  # fmt: skip

    def save(self):
        """meter.savers: commit the open intervals (one store put)."""
        if self.lp is None or self.lp.start < 0:
            return
        try:
            self.meter.store.put(storekeys.PROFILE_STATE, self.state())
        except OSError as e:
            self.env.failed(e)

    def _restore(self):
        v = self.meter.store.get(storekeys.PROFILE_STATE)
        if v is None or len(v) != _LP_N + struct.calcsize(_MP_STATE):
            return
        s = struct.unpack_from(_LP_STATE, v, 0)
        lp = self.lp
        lp.start, lp.end, lp.count, lp.flags, lp.period_s, lp.channels = s[:6]
        lp.at_start = s[6:]
        lp.flags |= PDN  # a boot: the meter was down (or restarted) during this interval
        s = struct.unpack_from(_MP_STATE, v, _LP_N)
        mp = self.mp
        mp.start, mp.end, mp.count, mp.flags, mp.period_s, mp.channels = s[:6]
        mp.sv, mp.si, mp.sp = s[6:]
        mp.flags |= PDN

    def fault(self):
        """True when the flash refused a profile record since boot (status word bit 23)."""
        return self.lp is not None and bool(self.lp.failed or self.mp.failed or self.daily.failed)


def attach(meter):
    meter.profiles = p = Profiles(meter)
    if p.reason is None:
        meter.on_second.append(p.on_second)
        meter.savers.append(p.save)
    return []
