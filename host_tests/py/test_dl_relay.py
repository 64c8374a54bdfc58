"""Relaying the download flood (docs/download.md §5.4) on a real meter (firmware/main.py's boot,
the real AL and MAC): after COMMAND download_relay the meter sends each broadcast block it hears
in its source's copy once more, DELAY ms after that copy, as the frame tools/mm_frame.py (the
independent codec) builds for a broadcast routed through it; nothing else is relayed."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dl_env import BOARD, FACTORY_VERSION, KD, Dcu, Meter, build_tree, dl_pack, status  # noqa: E402

from tools import mm_frame as mm  # noqa: E402

KEY = bytes.fromhex(KD)
BS = 96
RELAY = 0x1B
OTHER = bytes.fromhex("4d4d00000701")  # another repeater's route entry


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    tree = build_tree(tmp_path_factory.mktemp("tree"))
    return dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, KEY)


def _copy(lsdu, via=None):
    """A broadcast copy: the concentrator's own (no route, hop 0) or relayed by `via` (hop 1)."""
    route = [via] if via else []
    return mm.Frame(mm.BROADCAST, lsdu, disc=mm.DISC_S, route=route, hop=len(route)).encode()


def _hear(m, t_end, frame):
    a = m.ask(f"frame {t_end} {frame.hex()}")
    return None if a[1] == "-" else (int(a[1]), bytes.fromhex(a[2]))


def test_relay_sends_each_block_of_its_source_once_after_delay(tmp_path, image):
    m = Meter(tmp_path / "meter")
    dcu = Dcu()
    r = dcu.command(m, RELAY, dl_pack.relay_args(bytes(6), 150))
    assert r.nack == 26  # no download open: nothing to relay
    assert dcu.start(m, image, BS).code == 253
    assert dcu.command(m, RELAY, dl_pack.relay_args(bytes(6), 150)).code == 253
    me = bytes.fromhex(m.ask("aca")[1])
    blk = [dl_pack.block_lsdu(KEY, image, n, BS) for n in range(4)]

    at, sent = _hear(m, 1000, _copy(blk[0]))
    assert at == 1150  # DELAY after the source's copy ended
    assert sent == _copy(blk[0], via=me)  # byte for byte the independent codec's frame
    assert mm.decode(sent).lsdu == blk[0]
    assert _hear(m, 2000, _copy(blk[0])) is None  # the block relayed last: not again
    assert _hear(m, 3000, _copy(blk[1], via=OTHER)) is None  # not our source's copy
    forged = blk[2][:-1] + bytes([blk[2][-1] ^ 1])
    assert _hear(m, 4000, _copy(forged)) is None  # a wrong BTAG is neither stored nor relayed
    assert status(m, image)["received"] == 2  # blocks 0 and 1 (heard from OTHER) stored

    assert dcu.command(m, RELAY, dl_pack.relay_args(OTHER, 60)).code == 253
    assert _hear(m, 5000, _copy(blk[2])) is None  # the concentrator is no longer the source
    at, sent = _hear(m, 6000, _copy(blk[3], via=OTHER))
    assert (at, sent) == (6060, _copy(blk[3], via=me))
    assert _hear(m, 7000, _copy(blk[1], via=OTHER)) == (7060, _copy(blk[1], via=me))

    assert dcu.command(m, RELAY, dl_pack.relay_args(OTHER, 0)).code == 253  # DELAY 0: stop
    assert _hear(m, 8000, _copy(blk[2], via=OTHER)) is None
    assert status(m, image)["received"] == 4
    m.close()
