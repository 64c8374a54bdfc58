"""The boards' flash maps (docs/download.md §3, docs/boards.md): every region (store, profile
flash, download slots) lies inside the part, on whole erase units, overlaps nothing, and each
download slot holds today's image of its board with headroom.

The geometry is written here from the parts' manuals, not taken from the drivers: STM32F429ZI
bank 2 (RM0090 table 6: sectors 12-15 of 16 KiB from 0x08100000, 16 of 64 KiB, 17-23 of
128 KiB; the drivers' block is 128 KiB), and the ESP32's 4 MiB SPI flash under ESP-IDF's
partition-table rules (the table itself at 0x8000-0x8FFF, data partitions on 4 KiB erase
sectors, app partitions on 64 KiB), and the Nucleo's W25Q32JV SPI NOR (4 MiB of 4 KiB sectors).
"""

import ast
import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools import dl_pack  # noqa: E402
from tools.build_mpy import build  # noqa: E402
from tools.mpenv import ROOT  # noqa: E402

HEADROOM = 1.25  # a slot must hold the current image and a quarter more
BITMAP = 4096  # the slot's last 4 KiB hold the download bitmap (docs/download.md §5.3)
KIB = 1024

# RM0090 table 6, bank 2: sector -> (address, size)
F4_SECTORS = {n: (0x08100000 + (n - 12) * 16 * KIB, 16 * KIB) for n in range(12, 16)}
F4_SECTORS[16] = (0x08110000, 64 * KIB)
F4_SECTORS.update({n: (0x08120000 + (n - 17) * 128 * KIB, 128 * KIB) for n in range(17, 24)})
F4_BLOCK = 128 * KIB
ESP32_FLASH = 4 * 1024 * KIB
W25Q32JV_SECTORS = 4 * 1024 * KIB // (4 * KIB)  # the Nucleo's SPI NOR profile flash


def board_constants(name):
    """The literal module-level constants of boards/<name>.py."""
    tree = ast.parse((ROOT / "boards" / (name + ".py")).read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


@pytest.fixture(scope="module")
def image_sizes(tmp_path_factory):
    """Packed image size of each real board's `make mpy` tree, in format 1 (files not
    deflated: the larger one, and still accepted, so a slot must hold it)."""
    root = tmp_path_factory.mktemp("trees")
    return {
        b: len(dl_pack.pack(build(b, out_root=root), b, 1, bytes(16), fmt=dl_pack.FORMAT_1))
        for b in ("nucleo_f429zi", "esp32_devkitc")
    }


# --- NUCLEO-F429ZI -------------------------------------------------------------------------------


def f4_blocks(region):
    """[(address, size)] of a region's blocks; a block is a sector or a tuple of sectors that
    follow each other (erased one by one, one block to the driver)."""
    out = []
    for b in region:
        secs = (b,) if isinstance(b, int) else tuple(b)
        addr, size = F4_SECTORS[secs[0]]
        for n in secs[1:]:
            a, s = F4_SECTORS[n]
            assert a == addr + size, f"sector {n} does not follow the block's previous sector"
            size += s
        out.append((addr, size))
    return out


def f4_regions():
    c = board_constants("nucleo_f429zi")
    regions = {"store": c["STORE_SECTORS"]}
    for i, s in enumerate(c["SLOT_SECTORS"], 1):
        regions[f"slot{i}"] = s
    return c, regions


def test_nucleo_regions_are_whole_sectors_of_bank_2_and_never_share_one():
    _, regions = f4_regions()
    used = []
    for name, region in regions.items():
        for b in region:
            used += [b] if isinstance(b, int) else list(b)
        blocks = f4_blocks(region)
        assert {s for _, s in blocks} == {F4_BLOCK}, name  # the driver's one block size
        assert len(blocks) >= 2, name
    assert all(n in F4_SECTORS for n in used)  # bank 2 only: bank 1 runs the firmware
    assert len(used) == len(set(used))  # no erase unit shared by two regions


def test_nucleo_slots_and_store_fill_bank_2():
    # two 384 KiB slots and the store use every sector of bank 2: the profiles are elsewhere
    _, regions = f4_regions()
    total = sum(s for r in regions.values() for _, s in f4_blocks(r))
    assert total == sum(s for _, s in F4_SECTORS.values()) == 1024 * KIB


def test_nucleo_profile_region_fits_the_spi_nor():
    # docs/profiles.md §4: the rings on a W25Q32JV (4 MiB = 1024 sectors of 4 KiB), as deep as
    # on the other boards (44 blocks; profiles.layout needs >= 6)
    first, count = board_constants("nucleo_f429zi")["PROFILE_NOR_SECTORS"]
    assert 0 <= first and first + count <= W25Q32JV_SECTORS
    assert count == 44


def test_nucleo_slots_hold_the_image_with_headroom(image_sizes):
    _, regions = f4_regions()
    for name in ("slot1", "slot2"):
        cap = sum(s for _, s in f4_blocks(regions[name])) - BITMAP
        assert cap >= HEADROOM * image_sizes["nucleo_f429zi"], (name, cap)


# --- ESP32-DevKitC -------------------------------------------------------------------------------


def esp32_table():
    """[(name, type, subtype, offset, size)] of boards/esp32_partitions.csv."""
    rows = []
    with open(ROOT / "boards" / "esp32_partitions.csv") as f:
        for r in csv.reader(ln for ln in f if ln.strip() and not ln.startswith("#")):
            r = [x.strip() for x in r]
            rows.append((r[0], r[1], r[2], int(r[3], 0), int(r[4], 0)))
    return rows


def test_esp32_partitions_fit_the_flash_aligned_without_overlap():
    end = 0x9000  # the partition table occupies 0x8000-0x8FFF
    for name, typ, _sub, off, size in sorted(esp32_table(), key=lambda r: r[3]):
        unit = 0x10000 if typ == "app" else 0x1000
        assert off % unit == 0 and size % 0x1000 == 0, name
        assert off >= end, f"{name} overlaps the partition before it"
        end = off + size
    assert end <= ESP32_FLASH


def test_esp32_table_has_the_board_partitions(image_sizes):
    c = board_constants("esp32_devkitc")
    parts = {r[0]: r for r in esp32_table()}
    assert parts["factory"][1] == "app"
    for label in (c["STORE_PARTITION"], c["PROFILE_PARTITION"]) + c["SLOT_PARTITIONS"]:
        assert parts[label][1:3] == ("data", "undefined"), label  # raw: no filesystem on it
    assert parts[c["PROFILE_PARTITION"]][4] // 4096 >= 6  # profiles.layout's minimum
    for label in c["SLOT_PARTITIONS"]:
        assert parts[label][4] - BITMAP >= HEADROOM * image_sizes["esp32_devkitc"], label
