"""The metering state: every measured quantity the data model exposes, in one RAM buffer.

The energy engine (metering.engine, docs/metering.md) is this object's producer: it writes the
fields below with `set(offset, size, value)` once per metering second; the data model's `M` rows
point at these offsets. Big-endian, as on the wire, so a READ copies bytes without conversion.
`set` allocates nothing for values in the small-int range (it never builds a 2**32 mask, which
is a long int on a 32-bit port).
"""

from micropython import const

from datamodel.values import I32, decode

ACTIVE_IMPORT = const(0)  # u32 Wh, total
ACTIVE_EXPORT = const(4)
REACTIVE_Q1 = const(8)  # u32 varh per quadrant
REACTIVE_Q2 = const(12)
REACTIVE_Q3 = const(16)
REACTIVE_Q4 = const(20)
IMPORT_T1 = const(24)  # u32 Wh, active import per tariff 1..4
IMPORT_T2 = const(28)
IMPORT_T3 = const(32)
IMPORT_T4 = const(36)
DAILY_IMPORT = const(40)  # u32 Wh since local midnight
DAILY_EXPORT = const(44)
DAILY_REACTIVE = const(48)  # u32 varh (Q1 + Q2) since local midnight
ACTIVE_TARIFF = const(52)  # u8 1..4, 0 = none yet
LONG_INTERRUPTIONS = const(53)  # u16
SHORT_INTERRUPTIONS = const(55)  # u16
MAX_DEMAND = const(57)  # u32 W
MAX_DEMAND_TIME = const(61)  # TIME
VOLTAGE = const(65)  # u16 0.1 V
CURRENT = const(67)  # u16 0.01 A
POWER = const(69)  # i32 W (import positive)
POWER_FACTOR = const(73)  # i16 0.001
FREQUENCY = const(75)  # u16 0.01 Hz
SAGS = const(77)  # u16 voltage sags since first start
SWELLS = const(79)  # u16 voltage swells since first start
POWER_FAILS = const(81)  # u16 supply losses seen by the power-fail input
LAST_POWER_FAIL = const(83)  # TIME of the last supply loss, 0 none
LAST_OUTAGE_S = const(87)  # u32 duration of the last outage, s
LED_PULSES = const(91)  # u32 test-LED pulses (meter constant) since first start
REACTIVE_POWER = const(95)  # i32 var (inductive positive)
SIZE = const(99)


class MeteringState:
    def __init__(self):
        self.buf = bytearray(SIZE)
        self.updates = 0  # producer writes, for whoever wants to know something moved

    def get(self, off, n, signed=False):
        """The field as an int; signed=True for POWER, REACTIVE_POWER, POWER_FACTOR."""
        return decode(I32 if signed else 0, self.buf[off : off + n])

    def set(self, off, n, v):
        # two's complement for negative v: & and >> on a small int never leave the small range
        buf = self.buf
        for i in range(off + n - 1, off - 1, -1):
            buf[i] = v & 0xFF
            v >>= 8
        self.updates += 1
