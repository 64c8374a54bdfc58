"""The packed software image (docs/download.md §2): the packer (tools/dl_pack.py, CPython,
`cryptography`) against the meter's streaming verifier (firmware/lib/dl/image.py under
MicroPython), the worked example of the document byte for byte, every refusal code, and the
legally relevant identification (§9)."""

import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dl_env import BOARD, FACTORY_VERSION, KD, build_tree, compile_into, dl_pack  # noqa: E402

from tools import gen_dl_example  # noqa: E402
from tools import mm_frame as mm  # noqa: E402
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

KEY = bytes.fromhex(KD)
VERIFY = str(Path(__file__).resolve().parent / "dl_verify_mp.py")
UNIX_MPY = (6, 0x0B)  # sys.implementation._mpy of the unix port (x64): checked below


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return build_tree(tmp_path_factory.mktemp("tree"))


def mp_verify(tmp_path, img, key=KD, board=BOARD, running=FACTORY_VERSION, mpy=UNIX_MPY):
    p = tmp_path / "img.bin"
    p.write_bytes(img)
    args = [VERIFY, str(p), key, board, str(mpy[0]), str(mpy[1]), str(running)]
    out = subprocess.run(
        [micropython_exe()] + args, env=mp_env(), cwd=str(ROOT), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr + out.stdout
    return out.stdout.split()[1:]


def test_unix_port_mpy_abi_is_what_the_packer_writes(tree):
    out = subprocess.run(
        [
            micropython_exe(),
            "-c",
            "import sys; v = sys.implementation._mpy; print(v & 255, v >> 8)",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert tuple(map(int, out)) == UNIX_MPY == dl_pack.mpy_abi(tree)


def test_meter_accepts_the_packers_image_and_reads_the_same_manifest(tmp_path, tree):
    img = dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, KEY)
    m = dl_pack.verify(img, KEY)
    got = mp_verify(tmp_path, img)
    assert got[:5] == [
        "0",
        str(FACTORY_VERSION + 1),
        m["legal_id"].decode(),
        "%08x" % m["legal_crc"],
        m["tag"].hex(),
    ]


def test_format_1_and_2_of_one_tree_carry_the_same_files_and_legal_identification(tmp_path, tree):
    one = dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, KEY, fmt=dl_pack.FORMAT_1)
    two = dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, KEY)  # format 2 is the default
    m1, m2 = dl_pack.verify(one, KEY), dl_pack.verify(two, KEY)
    assert (m1["format"], m2["format"]) == (1, 2)
    assert (m1["legal_id"], m1["legal_crc"]) == (m2["legal_id"], m2["legal_crc"])
    assert [f[:3] for f in m1["files"]] == [f[:3] for f in m2["files"]]  # path, SIZE, SHA-256
    deflated = [f for f in m2["files"] if f[5] == dl_pack.DEFLATE]
    assert len(deflated) > len(m2["files"]) // 2 and len(two) < len(one)
    for path, _size, _sha, at, stored, _m in deflated:  # zlib's own reading of every stream
        assert zlib.decompress(two[at : at + stored], -dl_pack.WBITS) == (tree / path).read_bytes()
    for _path, size, _sha, _at, stored, method in m2["files"]:
        assert (method == dl_pack.STORED) == (stored == size)
    for img in (one, two):
        assert mp_verify(tmp_path, img)[:4] == [
            "0",
            str(FACTORY_VERSION + 1),
            m1["legal_id"].decode(),
            "%08x" % m1["legal_crc"],
        ]


def _swap_chunks(img, a, b, n):
    x = bytearray(img)
    x[a : a + n], x[b : b + n] = img[b : b + n], img[a : a + n]
    return bytes(x)


def test_every_refusal_code(tmp_path, tree):
    good = dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, KEY)
    mlen = dl_pack.parse(good)["mlen"]
    cases = [
        (dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, bytes(16)), "20"),  # wrong key
        (good[:8] + b"X" + good[9:], "20"),  # board name changed after tagging
        (dl_pack.pack(tree, "nucleo_f429zi", FACTORY_VERSION + 1, KEY), "22"),  # other board
        (dl_pack.pack(tree, BOARD, FACTORY_VERSION, KEY), "23"),  # same version
        (dl_pack.pack(tree, BOARD, 1, KEY), "23"),  # older
        (dl_pack.pack(tree, BOARD, 1, KEY, flags=dl_pack.FLAG_DOWNGRADE), "0"),  # allowed
        (good[:-100], "21"),  # truncated
        (good + b"\0" * 4, "21"),  # too long
        (_swap_chunks(good, mlen + 16 + 96, mlen + 16 + 96 * 900, 96), "21"),  # reordered
        (good[:-1] + bytes([good[-1] ^ 1]), "21"),  # one bit of the last file
        (b"MMIG\x03" + good[5:], "21"),  # unknown format
        (b"MMIG\x01" + good[5:], "20"),  # the format byte is under the tag
    ]
    for img, want in cases:
        assert mp_verify(tmp_path, img)[0] == want
    for img, want in cases:  # the independent verifier refuses the same ones
        if want in ("20", "21"):
            with pytest.raises(ValueError):
                dl_pack.verify(img, KEY)
    other_abi = mp_verify(tmp_path, good, mpy=(6, 0x1F))  # armv7emsp port
    assert other_abi[0] == "22"


def test_a_damaged_file_is_named_by_its_byte_range(tmp_path, tree):
    good = dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, KEY)
    for fmt in (dl_pack.FORMAT_1, dl_pack.FORMAT_2):
        good = dl_pack.pack(tree, BOARD, FACTORY_VERSION + 1, KEY, fmt=fmt)
        path, size, _, at, stored, _method = dl_pack.parse(good)["files"][3]
        bad = bytearray(good)
        bad[at + stored // 2] ^= 0x40
        got = mp_verify(tmp_path, bytes(bad))
        assert got[:1] + got[-1:] == ["21", f"{at}-{at + stored}"]


def _variant(tree, dst, rel_src, edit, folder="lib/"):
    """A copy of the built tree with one module (firmware/<folder><rel_src>) recompiled from
    edited source."""
    shutil.copytree(tree, dst)
    src = (ROOT / "firmware" / (folder + rel_src)).read_text()
    compile_into(dst, folder + rel_src.replace(".py", ".mpy"), edit(src))
    return dst


def test_communication_only_change_keeps_the_legal_identification(tmp_path, tree):
    base = dl_pack.parse(dl_pack.pack(tree, BOARD, 3, KEY))
    comm = _variant(tree, tmp_path / "comm", "smitp/al.py", lambda s: s + "\nX_COMM = 1\n")
    legal = _variant(
        tree, tmp_path / "legal", "datamodel/metering.py", lambda s: s + "\nX_LEGAL = 1\n"
    )
    c = dl_pack.parse(dl_pack.pack(comm, BOARD, 4, KEY))
    g = dl_pack.parse(dl_pack.pack(legal, BOARD, 4, KEY))
    assert c["files"] != base["files"]  # the image did change
    assert (c["legal_id"], c["legal_crc"]) == (base["legal_id"], base["legal_crc"])
    assert g["legal_crc"] != base["legal_crc"]
    # a legal module outside lib/ (the metering IC's driver) is found where the meter finds it
    drv = _variant(tree, tmp_path / "drv", "stpm3x.py", lambda s: s + "\nX_DRV = 1\n", "drivers/")
    d = dl_pack.parse(dl_pack.pack(drv, BOARD, 4, KEY))
    assert d["legal_crc"] not in (base["legal_crc"], g["legal_crc"])


def test_document_example_is_what_the_packer_builds(tmp_path):
    img = gen_dl_example.example_image()
    assert gen_dl_example.main(["--check"]) == 0  # the document is the generator's current output
    doc = (ROOT / "docs" / "download.md").read_text()
    dump = doc[doc.index("### 2.4") :]
    start = dump.index("```\n") + 4
    dump = dump[start : dump.index("\n```", start)]
    want = bytes.fromhex("".join(re.sub(r"^[0-9A-F]{4}  ", "", ln) for ln in dump.splitlines()))
    assert img == want
    assert "`download_start` for §2.4 with BS 32: DATA `18 %s`" % " ".join(
        "%02X" % b for b in dl_pack.start_args(img, 32)
    ) in doc.replace("\n", " ")
    blk0 = " ".join("%02X" % b for b in dl_pack.block_lsdu(KEY, img, 0, 32))
    assert blk0 in doc.replace("\n", " ")
    # §5.4: download_relay and block 0 as the concentrator and a relay send it (tools codecs)
    hexs = lambda b: " ".join("%02X" % x for x in b)  # noqa: E731
    level2 = dl_pack.relay_args(bytes.fromhex("4d4d00000101"), 200)
    assert "`1B %s`" % hexs(level2) in doc and "`1B %s`" % hexs(bytes(6) + b"\0\xc8") in doc
    b0 = dl_pack.block_lsdu(KEY, img, 0, 32)
    own = mm.Frame(mm.BROADCAST, b0, disc=mm.DISC_S).encode()
    relayed = mm.Frame(mm.BROADCAST, b0, mm.DISC_S, [bytes.fromhex("4d4d00000201")], hop=1)
    assert (own, relayed.encode()) == (
        gen_dl_example.flood_frame(img),
        gen_dl_example.flood_frame(img, gen_dl_example.RELAY_ACA),
    )
    for f in (own, relayed.encode()):
        assert "`%s`" % hexs(f) in doc.replace("\n", " ")
    # §2.1.1: the deflated entry of main.py and its stream, as the text quotes them
    main = next(f for f in dl_pack.parse(img)["files"] if f[0] == "main.py")
    _path, size, sha, at, stored, method = main
    flat = doc.replace("\n", " ")
    assert (size, method) == (48, dl_pack.DEFLATE)
    assert (
        "`07 6D 61 69 6E 2E 70 79 | 00 00 00 30 | %s | 01 | %s … %s`"
        % (
            hexs(stored.to_bytes(4, "big")),
            hexs(sha[:2]),
            hexs(sha[-2:]),
        )
        in flat
    )
    assert "`%s`" % hexs(img[at : at + stored]) in flat
    assert zlib.decompress(img[at : at + stored], -10) == b'print("hi")\n' * 4
    assert mp_verify(tmp_path, img, board="nucleo_f429zi", mpy=(6, 0x1F))[0] == "0"
    assert struct.unpack(">I", img[24:28])[0] == 3
