"""Legally relevant software (MID/WELMEC 7.2 style separation): its identification and checksum.

The legally relevant part is the code that turns measurements into billed quantities and keeps
them: the modules listed in MODULES (other engineers add theirs under METER_CONTRACT.md
"Changes"; this list is kept here). Its identification is SW_ID plus the checksum (registers
0x0700/0x0701): the CRC-32 of the modules' files in this order, each as found first on the path,
compiled (`.mpy`, what a board and a downloaded image run) before source (`.py`, a checkout).
A module found nowhere contributes its name instead, so the checksum then identifies the list
only; builds that freeze these modules must publish the checksum of the frozen image instead.
The packer (tools/dl_pack.py) computes the same value over an image's tree and writes it into
the image's manifest (docs/download.md §2.1), so an image that changes only communication code
keeps the legal identification.
"""

import sys

SW_ID = b"MMPYL001"  # 8 ASCII: changes whenever the legally relevant part's function changes

MODULES = (
    "datamodel/values",
    "datamodel/metering",
    "datamodel/registers",
    "datamodel/logtable",
    "datamodel/legal",
)
EXTENSIONS = (".mpy", ".py")


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
        for ext in EXTENSIONS:
            try:
                return open((p + "/" if p else "") + name + ext, "rb")
            except OSError:
                pass
    return None
