"""meter.tariffs (Seam C): the calendar fed from the data model's registers and tables.

Every call first checks that its inputs are the objects the model holds now (a write replaces
a parameter block or a table's bytes, never edits them in place), so a WRITE/WRITETAB/SETIC or
the contract switch takes effect on the next call with no notification and no polling cost.
"""

from datamodel import metering as mt
from micropython import const

from tariff.calendar import Calendar

UTC_OFFSET = const(0x0101)
DST_MODE = const(0x0102)
CONTRACT1_PLAN = const(0x0801)
CONTRACT2_PLAN = const(0x0811)
CONTRACT2_START = const(0x0812)
WEEKLY = const(0x0900)
SEASONS = const(0x0901)
HOLIDAYS = const(0x0A00)


class Tariffs(Calendar):
    def __init__(self, model):
        Calendar.__init__(self)
        self.model = model
        self._b1 = self._b8 = self._wk = self._se = self._ho = None
        self._sync()

    def _sync(self):
        md = self.model
        b1 = md.blocks[0x01]
        b8 = md.blocks[0x08]
        t = md.tables
        wk = t[WEEKLY].data
        se = t[SEASONS].data
        ho = t[HOLIDAYS].data
        if b1 is self._b1 and b8 is self._b8 and wk is self._wk and se is self._se:
            if ho is self._ho:
                return
        self._b1, self._b8, self._wk, self._se, self._ho = b1, b8, wk, se, ho
        g = md.get_int
        self.configure(
            g(UTC_OFFSET),
            g(DST_MODE),
            wk,
            se,
            ho,
            g(CONTRACT1_PLAN),
            g(CONTRACT2_PLAN),
            g(CONTRACT2_START),
        )

    def current(self, u):
        self._sync()
        return Calendar.current(self, u)

    def next_switch(self, u):
        self._sync()
        return Calendar.next_switch(self, u)

    def local(self, u):
        self._sync()
        return self.zone.local(u)

    def wall(self, u):
        """Local wall time of UTC u as one int (Zone.wall): no field tuple allocated."""
        self._sync()
        return self.zone.wall(u)

    def contract2_start(self):
        """Register 0x0812 as the calendar uses it (0 = no pending contract)."""
        self._sync()
        return self.c2

    def on_second(self, utc_s):
        """Keeps register 0x0902 active_tariff on the tariff of the second starting now."""
        me = self.model.metering
        t = self.current(utc_s)
        if me.buf[mt.ACTIVE_TARIFF] != t:
            me.set(mt.ACTIVE_TARIFF, 1, t)
