"""The metering state: every measured quantity the data model exposes, in one RAM buffer.

The metering code (a later feature) is this object's producer: it writes the fields below with
`set(offset, size, value)`; until then they read zero. The data model's `M` rows point at these
offsets. Big-endian, as on the wire, so a READ copies bytes without conversion.
"""

from micropython import const

from datamodel.values import decode, encode_into

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
SIZE = const(77)


class MeteringState:
    def __init__(self):
        self.buf = bytearray(SIZE)
        self.updates = 0  # producer writes, for whoever wants to know something moved

    def get(self, off, n):
        return decode(0, self.buf[off : off + n])

    def set(self, off, n, v):
        encode_into(self.buf, off, n, v)
        self.updates += 1
