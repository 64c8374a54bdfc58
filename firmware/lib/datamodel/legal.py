"""Legally relevant software (MID/WELMEC 7.2 style separation): its identification and checksum.

The legally relevant part is the code that turns measurements into billed quantities and keeps
them: the modules listed in MODULES (other engineers add theirs under METER_CONTRACT.md
"Changes"; this list is kept here). Its identification is SW_ID plus the checksum (registers
0x0700/0x0701): the CRC-32 of the modules' files in this order, each as found first in the
running tree (its lib/, then its root where drivers/ lives), compiled (`.mpy`, what a board and
a downloaded image run) before source (`.py`, a checkout) in each folder.
A module found nowhere contributes its name instead, so the checksum then identifies the list
only; builds that freeze these modules must publish the checksum of the frozen image instead.
The packer (tools/dl_pack.py) computes the same value over an image's tree and writes it into
the image's manifest (docs/download.md §2.1), so an image that changes only communication code
keeps the legal identification.
"""

import sys

SW_ID = b"MMPYL001"  # 8 ASCII: changes whenever the legally relevant part's function changes

# every module that computes, keeps or shows billed quantities (METER_CONTRACT.md Seam H): the
# data model, metrology front-ends, the energy engine, calendar/tariffs/billing, load profiles,
# the display's value formatting, and the drivers that read the IC or the metering ADC (with the
# DMA stop they share with the PHY capture) and drive the glass
MODULES = (
    "datamodel/values",
    "datamodel/metering",
    "datamodel/registers",
    "datamodel/logtable",
    "datamodel/legal",
    "civiltime",
    "metrology/sample",
    "metrology/stpm3x",
    "metrology/calib",
    "metrology/adc_frontend",
    "metrology/adc_kernel",
    "metrology/adc_viper",
    "metrology/adc_thumb",
    "metering/energy",
    "metering/engine",
    "metering/quality",
    "tariff/zone",
    "tariff/calendar",
    "tariff/tariffs",
    "tariff/billing",
    "tariff/views",
    "profiles/__init__",
    "profiles/load",
    "profiles/daily",
    "profiles/interval",
    "profiles/record",
    "profiles/ring",
    "screens/items",
    "screens/frame",
    "drivers/stpm3x",
    "drivers/stm32_meter_adc",
    "drivers/esp32_meter_i2s",
    "drivers/stm32_dma",
    "drivers/ht1621",
    "drivers/display",
)
EXTENSIONS = (".mpy", ".py")


def checksum(crc32, paths=None):
    """CRC-32 over the legally relevant modules found on `paths` (default: the tree this module
    was loaded from, see tree(); sys.path when that cannot be told)."""
    if paths is None:
        paths = tree(globals().get("__file__", "")) or sys.path
    crc = 0
    buf = bytearray(256)
    for name in MODULES:
        f = _open(name, paths)
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


def tree(path):
    """[its lib folder, its root] for this module's file `path` (".../lib/datamodel/legal.mpy"):
    the running tree only, as the packer sees an image. A downloaded image runs with the factory
    tree later on sys.path, and a module the image lacks (metrology/adc_thumb off stm32) must
    not be taken from there. None for a frozen or otherwise unknown place."""
    i = path.rfind("/datamodel/legal.")
    lib = path[:i]
    if i < 0 or not (lib == "lib" or lib.endswith("/lib")):
        return None
    return [lib, lib[:-4] if len(lib) > 4 else ("/" if lib == "/lib" else "")]


def _open(name, paths):
    for p in paths:
        for ext in EXTENSIONS:
            try:
                return open((p.rstrip("/") + "/" if p else "") + name + ext, "rb")
            except OSError:
                pass
    return None
