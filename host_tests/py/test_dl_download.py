"""Software download end to end on the unix port (docs/download.md): the packer's image goes
to a real meter (firmware/main.py's boot path, the real AL) by REPROG_BROADCAST, gaps are read
from the persistent bitmap and filled by REPROG_LOCAL, the verified image is activated, boots
on trial from its slot, confirms, or rolls back by itself."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dl_env import (  # noqa: E402
    BOARD,
    BS,
    FACTORY_VERSION,
    KD,
    Dcu,
    Meter,
    build_tree,
    compile_into,
    dl_pack,
    nack,
    send_image,
    status,
)

KEY = bytes.fromhex(KD)
DL_STARTED, DL_COMPLETE, DL_REFUSED = 0x70, 0x71, 0x72
DL_ACTIVATED, DL_CONFIRMED, DL_ROLLED_BACK, DL_TRIAL_FAILED = 0x73, 0x74, 0x75, 0x79


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return build_tree(tmp_path_factory.mktemp("tree"))


@pytest.fixture(scope="module")
def image(tree):
    return dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, KEY)


def download(state, image, skip=()):
    """Boot the meter, open the download, broadcast every block but `skip`, fill the gaps the
    status lists by REPROG_LOCAL, verify. Returns the meter (still running) and the DCU."""
    m = Meter(state)
    dcu = Dcu()
    r = dcu.start(m, image)
    assert r.code == 253, r
    send_image(m, image, KEY, skip=skip)
    st = status(m, image)
    assert st["state"] == 1 and st["received"] == st["total"] - len(skip)
    missing = []
    while True:  # the bitmap comes in windows of what one answer holds
        missing += st["missing"]
        nxt = st["first"] + 8 * st["n"]
        if nxt >= st["total"]:
            break
        st = status(m, image, nxt)
    assert missing == sorted(skip)
    for n in missing:
        ans, _ = m.send(dl_pack.block_lsdu(KEY, image, n, BS, broadcast=False))
        assert ans == bytes([253])
    assert m.ask("step")[1:] == ["2", "0"]  # ready, verified
    return m, dcu


def test_download_activate_trial_confirm(tmp_path, image):
    state = tmp_path / "meter"
    m, dcu = download(state, image, skip=(0, 5, 77, dl_pack.nblocks(len(image), BS) - 1))
    assert m.info()["slot"] == 0 and m.info()["version"] == FACTORY_VERSION
    assert dcu.activate(m).code == 253
    m.ask("step")
    assert m.info()["reset"] != "-"  # the activation asked for the reset into the new image
    m.close()

    m = Meter(state)  # first boot of the new image: on trial, from slot 1
    i = m.info()
    manifest = dl_pack.parse(image)
    assert (i["slot"], i["version"], i["trial"], i["tries"]) == (1, FACTORY_VERSION + 1, 1, 1)
    assert i["app"].startswith("/mmslot1/")
    assert i["legal_crc"] == manifest["legal_crc"]
    assert m.ask("trial") == ["trial", "ok"]
    assert m.ask("confirm") == ["confirmed", "1"]
    codes = [c for c, _ in m.events()]
    for c in (DL_STARTED, DL_COMPLETE, DL_ACTIVATED):
        assert c in codes
    m.close()

    m = Meter(state)  # confirmed: stays, no more trial boots counted
    i = m.info()
    assert (i["slot"], i["trial"], i["tries"]) == (1, 0, 0)
    m.close()


def test_unconfirmed_trial_rolls_back_after_max_boots(tmp_path, image):
    state = tmp_path / "meter"
    m, dcu = download(state, image)
    assert dcu.activate(m).code == 253
    m.ask("step")
    m.close()
    for boot in (1, 2, 3):  # never confirmed (no concentrator heard, watchdog resets)
        m = Meter(state)
        i = m.info()
        assert (i["slot"], i["trial"], i["tries"]) == (1, 1, boot)
        m.close()
    m = Meter(state)
    i = m.info()
    assert (i["slot"], i["version"], i["trial"]) == (0, FACTORY_VERSION, 0)
    assert (DL_ROLLED_BACK, FACTORY_VERSION) in m.events()
    assert status(m, image)["state"] == 0  # the session is over: a new download may start
    m.close()


def _broken_crypto(tree):
    src = (Path(__file__).resolve().parents[2] / "firmware/lib/smitp/crypto.py").read_text()
    bug = "msb = inp[0] >> 7"  # the CMAC subkey doubling takes the wrong bit: every MAC wrong
    assert bug in src
    compile_into(tree, "lib/smitp/crypto.mpy", src.replace(bug, "msb = inp[0] >> 6"))


def test_image_failing_its_selftest_rolls_back(tmp_path):
    tree = build_tree(tmp_path / "broken", _broken_crypto)
    img = dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, KEY)
    state = tmp_path / "meter"
    m, dcu = download(state, img)
    assert dcu.activate(m).code == 253
    m.ask("step")
    m.close()
    m = Meter(state)
    assert m.info()["slot"] == 1
    assert m.ask("trial") == ["trial", "fail"]
    m.ask("fail")  # what the download task does on a failed selftest: mark it, reset
    m.close()
    m = Meter(state)
    i = m.info()
    assert (i["slot"], i["version"]) == (0, FACTORY_VERSION)
    ev = m.events()
    assert (DL_TRIAL_FAILED, 1) in ev and (DL_ROLLED_BACK, FACTORY_VERSION) in ev
    m.close()


def test_refusals_through_the_application_layer_change_nothing(tmp_path, image):
    state = tmp_path / "meter"
    m = Meter(state)
    dcu = Dcu()
    iid = dl_pack.image_id(image)
    blk = dl_pack.block_lsdu(KEY, image, 0, BS, broadcast=False)
    assert m.send(blk)[0] == nack(25)  # nothing open
    assert dcu.activate(m).apdu == bytes([26])  # nothing ready
    assert dcu.command(m, 0x18, iid + bytes(4) + bytes([BS])).apdu == bytes([24])  # size 0
    assert dcu.command(m, 0x18, dl_pack.start_args(image, 100)).apdu == bytes([6])  # BS % 8
    plain = bytes([18, 0x18]) + dl_pack.start_args(image, BS)
    assert m.send(plain)[0] == nack(2)  # download_start needs the write key
    assert dcu.start(m, image).code == 253
    n = dl_pack.nblocks(len(image), BS)
    beyond = blk[:6] + n.to_bytes(2, "big") + blk[8:]  # block number past the end
    assert m.send(beyond)[0] == nack(24)
    short = blk[:-5] + blk[-4:]  # one data byte less
    assert m.send(short)[0] == nack(24)
    forged = blk[:20] + bytes([blk[20] ^ 1]) + blk[21:]
    assert m.send(forged)[0] == nack(20)
    assert m.send(dl_pack.block_lsdu(bytes(16), image, 1, BS, broadcast=False))[0] == nack(20)
    other = bytes([100, 1]) + bytes(4) + blk[6:]
    assert m.send(other)[0] == nack(25)
    assert m.send(blk, bcast=True)[0] is None  # REPROG_LOCAL to broadcast: ignored
    st = status(m, image)
    assert st["received"] == 0 and st["state"] == 1  # none of those stored anything
    assert m.send(blk)[0] == bytes([253])
    assert m.send(blk)[0] == bytes([253])  # a repeat: already there
    assert status(m, image)["received"] == 1
    # the event log is cleared only with the write key
    assert m.send(bytes([18, 0x07]))[0] == nack(2)
    assert (DL_STARTED, n) in m.events()
    assert m.info()["slot"] == 0
    m.close()


def test_refused_image_is_never_activated(tmp_path, tree):
    img = dl_pack.pack(tree, "nucleo_f429zi", FACTORY_VERSION + 1, KEY)  # another board
    state = tmp_path / "meter"
    m = Meter(state)
    dcu = Dcu()
    assert dcu.start(m, img).code == 253
    send_image(m, img, KEY)
    assert m.ask("step")[1:] == ["3", "22"]
    assert dcu.activate(m).apdu == bytes([26])
    assert (DL_REFUSED, 22) in m.events()
    m.close()
    m = Meter(state)
    assert m.info()["slot"] == 0
    m.close()
