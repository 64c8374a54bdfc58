"""System test: SIGKILL a unix_sim meter at random moments of a software download, its
activation and the first boot of the new image, DL_KILLS times (default 12 here; the bench
runs 200: `make bench-dl`). The seed is fixed.

Each round boots the meter (dl_worker.py, through firmware/main.py's boot path) on the same
state directory. A third of the rounds kill it during the boot itself; the others first judge
what it booted, then hand it everything still to do towards the next version — open the
download, the blocks its persistent bitmap lacks, verify, activate, trial selftest, confirm —
and kill it after a random delay. The judge (CPython, tools/dl_pack.py + `cryptography`):
- the running slot is the factory tree, or a slot whose stored image verifies completely (tag
  and every file hash) and whose version the meter reports;
- no module of the application comes from another tree (no mixture);
- the version never goes back except by a roll-back, and the upgrades keep progressing.
"""

import os
import random
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dl_env import BOARD, BS, FACTORY_VERSION, KD, Meter, build_tree, dl_pack  # noqa: E402

KEY = bytes.fromhex(KD)
KILLS = int(os.environ.get("DL_KILLS", "12"))
SEED = 20261130
VERSIONS = max(6, KILLS // 3)  # images for FACTORY_VERSION + 1 ... + VERSIONS: never run out


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    tree = build_tree(tmp_path_factory.mktemp("tree"))
    return {
        FACTORY_VERSION + i: dl_pack.pack(tree, BOARD, FACTORY_VERSION + i, KEY)
        for i in range(1, VERSIONS + 1)
    }


def judge(state: Path, info: dict):
    """What the meter booted must be the factory tree or one complete, verified image."""
    assert info["mixed"] == 0, info
    if info["slot"] == 0:
        assert info["version"] == FACTORY_VERSION
        return
    raw = (state / f"slot{info['slot']}.bin").read_bytes()
    mlen, payload = int.from_bytes(raw[6:8], "big"), int.from_bytes(raw[32:36], "big")
    m = dl_pack.verify(raw[: mlen + 16 + payload], KEY)  # the length its header claims
    assert m["version"] == info["version"]
    assert m["legal_crc"] == info["legal_crc"]


def script(m: Meter, info: dict, img: bytes) -> list:
    """Every request still needed to run img's version, as the meter stands now."""
    st = dl_pack.parse_status(m.send(dl_pack.status_lsdu(dl_pack.image_id(img), 0))[0])
    lines = []
    if info["trial"]:
        return ["trial", "confirm"]
    if st["n"] == 0 or st["state"] in (0, 3, 4):  # nothing open (4: rolled back since)
        lines += ["dlstart " + dl_pack.start_args(img, BS).hex(), "erase"]
        todo = range(dl_pack.nblocks(len(img), BS))
    elif st["state"] == 5:  # cut during the erase: the task erases again from the start
        lines.append("erase")
        todo = range(dl_pack.nblocks(len(img), BS))
    elif st["state"] == 1:
        todo = []
        while True:
            todo += st["missing"]
            nxt = st["first"] + 8 * st["n"]
            if nxt >= st["total"]:
                break
            st = dl_pack.parse_status(m.send(dl_pack.status_lsdu(dl_pack.image_id(img), nxt))[0])
    else:
        todo = []
    for n in todo:
        lines.append("req 0 0 1 " + dl_pack.block_lsdu(KEY, img, n, BS).hex())
    return lines + ["step", "dlact 00000001", "step", "info"]


def test_kills_during_download_activation_and_first_boot(tmp_path, images):
    rng = random.Random(SEED)
    state = tmp_path / "meter"
    boot_kills = 0
    best = FACTORY_VERSION
    seen = set()
    t0 = time.monotonic()
    for i in range(KILLS):
        m = Meter(state)
        if i % 3 == 2:  # during the boot: selector, trial count, verification, mount
            time.sleep(rng.uniform(0.0, 0.6))
            m.p.kill()
            m.p.wait()
            boot_kills += 1
            continue
        info = m.info()
        judge(state, info)
        seen.add((info["slot"], info["version"], info["trial"]))
        best = max(best, info["version"])
        target = min(info["version"] + 1, FACTORY_VERSION + VERSIONS)
        lines = script(m, info, images[target])
        m.p.stdin.write(("\n".join(lines) + "\n").encode())
        m.p.stdin.flush()
        time.sleep(rng.uniform(0.0, 0.002 * len(lines) + 0.2))
        m.p.kill()
        m.p.wait()
    m = Meter(state)  # the last word: still a complete image
    info = m.info()
    judge(state, info)
    m.close()
    print(
        f"\n{KILLS} kills ({boot_kills} during boot) in {time.monotonic() - t0:.0f} s; "
        f"versions reached up to {max(best, info['version'])}; {len(seen)} distinct "
        f"(slot, version, trial) states seen"
    )
    assert max(best, info["version"]) > FACTORY_VERSION  # upgrades progressed despite kills
