"""Every key of the power-fail-safe store, in one place, so no two layers ever collide."""

from micropython import const

BOOT_COUNT = const(1)  # u32 big-endian: boots since first start
TCT = const(2)  # u8: network-management silencing level (mac.netmgmt)
LMON = const(3)  # u64 big-endian: SMITP anti-replay message counter
SCA = const(4)  # 6 bytes: section address given by the concentrator
OPTICAL_TRIES = const(0x20)  # u8: wrong optical passwords in a row (optical.iec21 lockout)
