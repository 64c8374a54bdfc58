"""Legally relevant software (MID/WELMEC 7.2 style separation): its identification and checksum.

The legally relevant part is the code that turns measurements into billed quantities and shows
them: the modules listed in MODULES. The checksum (register 0x0701) is the CRC-32 of their files'
bytes in this order, computed once at start. A module not found as a file (e.g. frozen into the
firmware image) contributes its name instead, so the checksum then identifies the list only;
builds that freeze these modules must publish the checksum of the frozen image instead.
"""

import sys

SW_ID = b"MMPYL001"  # 8 ASCII: changes whenever the legally relevant part changes

MODULES = (
    "datamodel/values.py",
    "datamodel/metering.py",
    "datamodel/registers.py",
    "datamodel/logtable.py",
)


def checksum(crc32, paths=None):
    """CRC-32 over the legally relevant modules found on `paths` (default sys.path)."""
    crc = 0
    buf = bytearray(256)
    for name in MODULES:
        f = _open(name, paths if paths is not None else sys.path)
        if f is None:
            crc = crc32(name.encode(), crc)
            continue
        with f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                crc = crc32(memoryview(buf)[:n], crc)
    return crc


def _open(name, paths):
    for p in paths:
        try:
            return open((p + "/" if p else "") + name, "rb")
        except OSError:
            pass
    return None
