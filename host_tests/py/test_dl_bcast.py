"""Broadcast download_start / download_activate (docs/download.md §5.5) on a real meter
(firmware/main.py's boot path, the real AL), with LSDUs from the independent packer
(tools/dl_pack.py, CPython `cryptography`): accepted, forged, replayed, downgrade, a version
other than the manifest's; the erase runs in the download task (§3) and blocks sent before it
are refused."""

import struct
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dl_env as env  # noqa: E402
from dl_env import BS, KD, Meter, dl_pack, nack, ref, status  # noqa: E402

from tools import mm_frame as mm  # noqa: E402
from tools.dcu_session import Refused  # noqa: E402
from tools.dcu_upgrade import Upgrade  # noqa: E402

KEY = bytes.fromhex(KD)
DL_STARTED, DL_REFUSED = 0x70, 0x72
PAST = 0x10000  # TIME above 0xFFFF: seconds since 2000 (a past time: due at once)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The unix_sim tree packed as the next version (`next`), or as any (`pack(v, flags)`)."""
    tree = env.build_tree(tmp_path_factory.mktemp("tree"))
    pack = lambda v, flags=0: dl_pack.pack(tree, env.BOARD, v, KEY, flags)  # noqa: E731
    return SimpleNamespace(next=pack(env.FACTORY_VERSION + 1), pack=pack)


def bcast(m, lsdu):
    ans, _ = m.send(lsdu, poll=0, bcast=True)
    assert ans is None  # a broadcast is never answered


def test_broadcast_start_and_activate_upgrade_the_meter(tmp_path, image):
    image = image.next
    state = tmp_path / "meter"
    m = Meter(state)
    start = dl_pack.bcast_start_lsdu(KEY, image, BS)
    assert start[:2] == bytes([101, 3]) and len(start) == 23
    bcast(m, start)
    st = status(m, image)
    assert (st["state"], st["received"]) == (5, 0)  # erasing: the task has not run yet
    blk = dl_pack.block_lsdu(KEY, image, 0, BS, broadcast=False)
    assert m.send(blk)[0] == nack(27)  # its flash is not erased yet
    assert m.ask("erase 1") == ["erased", "5", "1"]  # the bitmap's unit first
    assert m.send(blk)[0] == nack(27)
    erased = m.ask("erase")
    assert erased[1] == "1"  # receiving
    bcast(m, start)  # the second copy: no second erase, nothing lost
    assert m.send(blk)[0] == bytes([253])
    bcast(m, start)
    assert status(m, image)["received"] == 1
    assert m.ask("erase") == erased  # the repeats opened nothing: no erase again
    env.send_image(m, image, KEY, skip=(0,))
    assert m.ask("step")[1:] == ["2", "0"]
    assert [e for e in m.events() if e[0] == DL_STARTED] == [
        (DL_STARTED, dl_pack.nblocks(len(image), BS))
    ]
    iid = dl_pack.image_id(image)
    forged = bytearray(dl_pack.bcast_activate_lsdu(KEY, iid, PAST))
    forged[-1] ^= 1
    bcast(m, bytes(forged))
    bcast(m, dl_pack.bcast_activate_lsdu(bytes(16), iid, PAST))  # another key
    m.ask("step")
    assert m.info()["reset"] == "-"
    bcast(m, dl_pack.bcast_activate_lsdu(KEY, iid, PAST))
    m.ask("step")
    assert m.info()["reset"] != "-"
    m.close()
    m = Meter(state)
    i = m.info()
    assert (i["slot"], i["version"], i["trial"]) == (1, env.FACTORY_VERSION + 1, 1)
    bcast(m, dl_pack.bcast_activate_lsdu(KEY, iid, PAST))  # replayed after the activation
    bcast(m, start)  # and the start: its version runs now, nothing opens
    assert m.ask("step")[1] == "4"
    assert m.ask("erase")[1:] == ["4", "0"]
    m.close()


def test_forged_downgrade_and_older_starts_open_nothing(tmp_path, image):
    pack, image = image.pack, image.next
    m = Meter(tmp_path / "meter")
    start = dl_pack.bcast_start_lsdu(KEY, image, BS)
    bcast(m, dl_pack.bcast_start_lsdu(bytes(16), image, BS))  # not the download key
    bcast(m, start[:6] + bytes([start[6] ^ 1]) + start[7:])  # SIZE changed, old tag
    older = pack(env.FACTORY_VERSION, dl_pack.FLAG_DOWNGRADE)
    bcast(m, dl_pack.bcast_start_lsdu(KEY, older, BS))  # the running version: never
    assert status(m, image)["state"] == 0 and status(m, older)["n"] == 0
    newer = pack(env.FACTORY_VERSION + 2)
    bcast(m, dl_pack.bcast_start_lsdu(KEY, newer, BS))
    bcast(m, start)  # a replayed start of an older release: the newer session stays
    assert status(m, newer)["state"] == 5 and status(m, image)["n"] == 0
    m.close()


def test_the_manifest_must_carry_the_announced_version(tmp_path, image):
    image = image.next
    m = Meter(tmp_path / "meter")
    bcast(m, dl_pack.bcast_start_lsdu(KEY, image, BS, version=env.FACTORY_VERSION + 5))
    m.ask("erase")
    env.send_image(m, image, KEY)
    assert m.ask("step")[1:] == ["3", "21"]
    assert (DL_REFUSED, 21) in m.events()
    assert env.Dcu().activate(m).apdu == bytes([26])
    m.close()


def test_sealed_start_answers_before_the_erase(tmp_path, image):
    image = image.next
    m = Meter(tmp_path / "meter")
    r = env.Dcu().command(m, 0x18, dl_pack.start_args(image, BS))
    assert r.code == 253
    st = status(m, image)
    assert (st["state"], st["n"] > 0, st["missing"][:2]) == (5, True, [0, 1])
    assert m.send(dl_pack.block_lsdu(KEY, image, 0, BS, broadcast=False))[0] == nack(27)
    assert m.ask("erase")[1] == "1"
    assert status(m, image)["state"] == 1
    m.close()


# --- the concentrator (tools/dcu_upgrade.py) against real meters -------------------------------


class _Link:
    """Simulated time of the concentrator: waiting only moves it."""

    def __init__(self):
        self.t = 0

    def now_ms(self):
        return self.t

    def recv(self, end):
        self.t = max(self.t, end)


class _Conc:
    """Frames straight to the meter processes; `deaf` = {(meter, REPROG op)} broadcasts a meter
    does not hear. Between frames each meter's download task runs (erase, verify)."""

    def __init__(self, meters):
        self.meters = meters
        self.link = _Link()
        self.o = SimpleNamespace(tel_ms=mm.TEL_MS, add_ms=mm.ADD_MS)
        self.deaf = set()
        self.heard = []

    def exchange(self, dst, route, disc, dsap, lsdu):
        self.link.t += 50
        for m in self.meters.values():
            m.ask("erase")
            m.ask("step")
        if dst == mm.BROADCAST:
            for aca, m in self.meters.items():
                if (aca, lsdu[1]) not in self.deaf:
                    bcast(m, lsdu)
                    self.heard.append((aca, lsdu[1]))
            return []
        ans, _ = self.meters[dst].send(lsdu)
        return [(SimpleNamespace(lsdu=ans),)] if ans else []


class _Session:
    """dcu_session.MeterSession's call() over _Conc, sealing with tools/smitp_ref."""

    def __init__(self, aca, meter):
        self.aca, self.route, self.meter = aca, [], meter
        self.master = ref.Master(env.ACA, ref.Keys.from_hex(env.KW, env.KR))

    def call(self, attr, apdu=b"", ecc=0, check=True):
        req = self.master.request(attr, apdu, ecc)
        ans, e = self.meter.send(req.lsdu, ecc=ecc)
        rep = self.master.reply(req, ans, e)
        if check and not rep.ok:
            raise Refused(rep)
        return rep


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """An image of one small module: a few blocks, the upgrade logic is what is tested."""
    t = tmp_path_factory.mktemp("small")
    (t / "lib").mkdir()
    env.compile_into(t, "lib/x.mpy", "X = 1\n")
    return dl_pack.pack(t, env.BOARD, env.FACTORY_VERSION + 1, KEY)


def test_concentrator_broadcasts_and_seals_only_for_the_meters_that_missed(tmp_path, small):
    meters = {bytes([i]) * 6: Meter(tmp_path / str(i)) for i in (1, 2, 3)}
    a, b, c = meters
    conc = _Conc(meters)
    conc.deaf = {(b, 3), (c, 4)}  # b misses both starts, c both activates
    up = Upgrade(conc, [_Session(k, m) for k, m in meters.items()], small, KEY, bs=BS)
    res = up.run(0, wait_boot=lambda: conc.link.recv(conc.link.t + 30_000))
    assert (a, 3) in conc.heard and (c, 3) in conc.heard and (b, 3) not in conc.heard
    assert conc.heard.count((a, 4)) == 2 and (c, 4) not in conc.heard
    assert up.frames["bcast_cmd"] == 4  # start and activate, twice each (one route: none)
    assert up.frames["command"] == 2  # COMMAND 0x18 to b, COMMAND 0x19 to c: nothing else
    assert up.passes == [up.n, up.n]  # b had nothing: the second pass carries every block
    for aca, m in meters.items():
        assert res[aca.hex()]["error"] is None and res[aca.hex()]["state"] == "activating"
        act = _Session(aca, m).call(ref.READ_REQ, ref.read_req(0x1003)).fields["value"]
        assert act == bytes([0, 0, 0, 1])  # every meter's activation is due (c: by 0x19)
    for m in meters.values():
        m.close()


def test_document_examples_are_the_encoders_and_the_tags_cmac():
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import algorithms

    from tools import gen_dl_example

    img = gen_dl_example.example_image()
    doc = (Path(__file__).resolve().parents[2] / "docs" / "download.md").read_text()
    iid = dl_pack.image_id(img)
    for name, lsdu in (
        ("START", dl_pack.bcast_start_lsdu(KEY, img, 32)),
        ("ACTIVATE at once", dl_pack.bcast_activate_lsdu(KEY, iid, 0)),
        ("ACTIVATE in 30 s", dl_pack.bcast_activate_lsdu(KEY, iid, 30)),
    ):
        assert "\n%s `%s`" % (name, " ".join("%02X" % b for b in lsdu)) in doc
        c = cmac.CMAC(algorithms.AES(KEY))
        c.update(lsdu[:-8])
        assert c.finalize()[:8] == lsdu[-8:]
    start = dl_pack.bcast_start_lsdu(KEY, img, 32)
    assert start[:15] == bytes([0x65, 3]) + iid + struct.pack(">IBI", len(img), 32, 3)
