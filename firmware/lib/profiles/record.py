"""Profile record layouts and the status byte (docs/profiles.md has them byte by byte).

Load profile (0x0500), 14 bytes: TIME(4) STATUS(1) CHANNELS(1) A+(2) A-(2) R+(2) R-(2)
Measurand profile (0x1100), 14 bytes: TIME(4) STATUS(1) CHANNELS(1) V(2) I(2) P(4, signed)
Daily snapshot (0x0503), 46 bytes: TIME(4) STATUS(1) TARIFF(1) A+ A- Q1 Q2 Q3 Q4 T1 T2 T3 T4
(u32 each). Big-endian throughout; TIME = UTC seconds since 2000 of the interval's end (daily:
of the local midnight).
"""

from micropython import const

# status byte: IDIS practice (metering-facts §4) where it has a bit, ours (PAR, OVF) in its
# reserved bits 6 and 4
PDN = const(0x80)  # power down (or restart) during the interval
PAR = const(0x40)  # partial interval: fewer metering seconds than the period
CAD = const(0x20)  # clock set or adjusted during the interval
OVF = const(0x10)  # a channel exceeded its field and is saturated
DST = const(0x08)  # summer time in force at TIME
DNV = const(0x04)  # data not valid
CIV = const(0x02)  # clock invalid (never set) at TIME; DNV set too
ERR = const(0x01)  # critical error: record torn in flash, or a register went backwards

LP_SIZE = const(14)
MP_SIZE = const(14)
DAILY_SIZE = const(46)

# channel bits (0x0502 lp_channels, 0x1102 mp_channels)
CH_A_PLUS = const(1)
CH_A_MINUS = const(2)
CH_R_PLUS = const(4)  # Q1 + Q2
CH_R_MINUS = const(8)  # Q3 + Q4
CH_V = const(1)
CH_I = const(2)
CH_P = const(4)


def put_u(buf, off, n, v):
    for i in range(n - 1, -1, -1):
        buf[off + i] = v & 0xFF
        v >>= 8


def lost(buf, rno):
    """What a torn flash slot reads as: TIME 0, status ERR | DNV, every value 0."""
    for i in range(len(buf)):
        buf[i] = 0
    buf[4] = ERR | DNV


def seal(ring, rec, stamp, flags, env):
    """Stamp rec (TIME, STATUS with DST and CIV|DNV from env) and append it to ring; returns
    its RNO, or -1 when the flash refused it (env.failed records the error)."""
    put_u(rec, 0, 4, stamp)
    if env.dst(stamp):
        flags |= DST
    if not env.clock_valid():
        flags |= CIV | DNV
    rec[4] = flags
    try:
        return ring.append(rec)
    except OSError as e:
        env.failed(e)
        return -1
