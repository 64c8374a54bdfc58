"""The data-model register table: one row per object the meter exposes over SMITP.

Object IDs are 16-bit, sent big-endian in READ.REQ. 0x003F = Status Word is public
(facts §3); the other IDs and every layout here are our choices, documented in
docs/datamodel.md, pending the CLC/TS 50568-8 clause 9-10 text.
Each row: (object id, name, size in bytes, access, getter). A getter takes the meter object
and returns exactly `size` bytes built from live state, never a constant answer.
"""

import struct

from micropython import const

READ = const(1)
WRITE = const(2)

STATUS_WORD = const(0x003F)
SERIAL_NUMBER = const(0x0001)
FIRMWARE_VERSION = const(0x0002)
ACA = const(0x0003)
BOOT_COUNT = const(0x0004)

FIRMWARE = b"MMPY0001"  # 8 bytes: project tag + release number

# Status word bits (byte 0 is the least significant on the wire's last byte; see docs).
SW_RELAY_OPEN = const(1 << 0)
SW_RELAY_FAULT = const(1 << 1)
SW_CLOCK_NOT_SET = const(1 << 2)
SW_STORE_RECOVERED = const(1 << 3)  # the store had to discard a torn record at boot
SW_FIRST_BOOT = const(1 << 4)

# An RTC reading before 2020-01-01 (seconds since 2000) means nobody has set the clock.
_CLOCK_SET_AFTER = const(631152000)


def status_word(meter):
    """8 bytes, big-endian u64 of flags taken from the live meter."""
    flags = 0
    relay = meter.hw.relay
    if relay is not None:
        if relay.state() is False:
            flags |= SW_RELAY_OPEN
        if relay.fault():
            flags |= SW_RELAY_FAULT
    rtc = meter.hw.rtc
    if rtc is None or rtc.seconds() < _CLOCK_SET_AFTER:
        flags |= SW_CLOCK_NOT_SET
    if meter.store_recovered:
        flags |= SW_STORE_RECOVERED
    if meter.boots == 1:
        flags |= SW_FIRST_BOOT
    return struct.pack(">Q", flags)


def _serial(meter):
    s = meter.cfg["serial"].encode()
    return (s + b" " * 16)[:16]


TABLE = (
    (SERIAL_NUMBER, "serial_number", 16, READ, _serial),
    (FIRMWARE_VERSION, "firmware_version", 8, READ, lambda m: FIRMWARE),
    (ACA, "aca", 6, READ, lambda m: bytes(m.aca)),
    (BOOT_COUNT, "boot_count", 4, READ, lambda m: struct.pack(">I", m.boots)),
    (STATUS_WORD, "status_word", 8, READ, status_word),
)


def find(obj_id):
    for row in TABLE:
        if row[0] == obj_id:
            return row
    return None
