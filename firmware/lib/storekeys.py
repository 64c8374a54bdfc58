"""Every key of the power-fail-safe store, in one place, so no two layers ever collide."""

from micropython import const

BOOT_COUNT = const(1)  # u32 big-endian: boots since first start
TCT = const(2)  # u8: network-management silencing level (mac.netmgmt)
LMON = const(
    3
)  # u64 big-endian: SMITP LMON ceiling; every MON ever accepted is <= it (smitp.security)
SCA = const(4)  # 6 bytes: section address given by the concentrator
KEY_WRITE = const(0x10)  # 16 bytes: SMITP K1 (write key); never read back except by smitp.security
KEY_READ = const(0x11)  # 16 bytes: SMITP K2 (read key); never read back except by smitp.security
PARAMS = const(0x0100)  # + group 0x00..0xFF: the packed P registers of that data-model group
TABLES = const(0x0200)  # + 8 x table number + chunk: data-model tables (datamodel.logtable)
PENDING = const(0x0300)  # TIME(4) OBJ(2) VALUE: the SETIC/WRITETABIC pending activation
OPTICAL_TRIES = const(0x20)  # u8: wrong optical passwords in a row (optical.iec21 lockout)
ENERGY = const(0x0400)  # the energy engine's state: totals, remainders, day, quality (metering)
BILLING_STATE = const(0x0500)  # tariff.billing: open demand block and maxima (docs/tariffs.md)
PROFILE_STATE = const(0x0600)  # profiles: the open load/measurand intervals (profiles/__init__)
CUTOFF_STATE = const(0x0700)  # STATE(1) CAUSE(1) LIMIT_TRIPS(2 BE): the cut-off (lib/cutoff)
DL_SELECTOR = const(0x0900)  # ACTIVE PREV STATE TRIES NOTE: the boot selector (dl.bootsel)
DL_KEY = const(0x0901)  # 16 bytes: the download key (docs/download.md §3); write key changes it
DL_SESSION = const(0x0902)  # the download in progress (dl.transfer; its bitmap is in the slot)
