"""Image format 2, deflated files (docs/download.md §2): images built by the CPython packer
(tools/dl_pack.py, CPython zlib) checked by the meter's verifier and read through the meter's
image VFS under MicroPython (dl_deflate_mp.py), the VFS output compared with zlib's own
decompression of the stored bytes; damaged, truncated, overlong and bomb streams refused with
E_FORMAT and the file's stored range, bounded work, and a seeded fuzz on which the meter and
the CPython verifier must agree without an exception."""

import hashlib
import random
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dl_env import BOARD, KD, build_tree, compile_into, dl_pack  # noqa: E402

from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

KEY = bytes.fromhex(KD)
SCRIPT = str(Path(__file__).resolve().parent / "dl_deflate_mp.py")
E_FORMAT = 21
LEGAL = (b"MMPYL001", 0)
MOD_SRC = "VALUE = sum(range(100))\nNAMES = (%s)\n" % ", ".join('"name_%d"' % i for i in range(60))
_rnd = random.Random(7)
# deflates to more than image.INFLATE_RAM (8192) stored bytes: read through the RawReader
BIG_SRC = "VALUE = 1\nWORDS = (%s)\n" % ", ".join(
    '"%s"' % "".join(_rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12))
    for _ in range(1200)
)
INFLATE_RAM = 8192


def mp(*args):
    out = subprocess.run(
        [micropython_exe(), SCRIPT, args[0], KD, BOARD] + [str(a) for a in args[1:]],
        env=mp_env(),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    return [ln.split() for ln in out.stdout.splitlines()]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return build_tree(tmp_path_factory.mktemp("tree"))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """lib/cmod.mpy (compresses), lib/big.mpy (over INFLATE_RAM stored), lib/tiny.mpy (does
    not compress), main.py."""
    t = tmp_path_factory.mktemp("small") / "t"
    (t / "lib").mkdir(parents=True)
    compile_into(t, "lib/cmod.mpy", MOD_SRC)
    compile_into(t, "lib/big.mpy", BIG_SRC)
    compile_into(t, "lib/tiny.mpy", "VALUE = 7\n")
    (t / "main.py").write_text('print("hi")\n' * 20)
    return t


def entries_of(tree: Path):
    out = []
    for p in dl_pack.tree_files(tree):
        data = p.read_bytes()
        z = dl_pack.deflate(data)
        m = dl_pack.DEFLATE if len(z) < len(data) else dl_pack.STORED
        out.append((p.relative_to(tree).as_posix(), data, z if m else data, m))
    return out


def assemble(tree, entries):
    return dl_pack.assemble(entries, BOARD, 3, KEY, dl_pack.mpy_abi(tree), LEGAL)


def write(tmp_path, name, img):
    p = tmp_path / name
    p.write_bytes(img)
    return p


def test_packed_tree_verifies_and_reads_back_byte_exact(tmp_path, tree):
    img = dl_pack.pack(tree, BOARD, 3, KEY)
    m = dl_pack.verify(img, KEY)
    p = write(tmp_path, "two.img", img)
    assert mp("verify", p)[0][1:3] == ["0", "-"]
    rows = {r[1]: r[2:] for r in mp("read", p, 100)}  # 100: pieces across the window edges
    assert len(rows) == len(m["files"])
    for path, size, sha, at, stored, method in m["files"]:
        data = (tree / path).read_bytes()
        if method == dl_pack.DEFLATE:  # zlib's reading of the stored bytes, not the packer's
            assert zlib.decompress(img[at : at + stored], -dl_pack.WBITS) == data
        want = hashlib.sha256(data).hexdigest()
        assert sha.hex() == want and rows[path] == [str(size), want, want, want], path
    one = write(tmp_path, "one.img", dl_pack.pack(tree, BOARD, 3, KEY, fmt=dl_pack.FORMAT_1))
    assert mp("verify", one)[0][1] == "0"  # format 1 stays accepted


def test_mpy_imports_from_a_deflated_file(tmp_path, small):
    img = dl_pack.pack(small, BOARD, 3, KEY)
    methods = {f[0]: f[5] for f in dl_pack.parse(img)["files"]}
    assert methods == {
        "lib/big.mpy": dl_pack.DEFLATE,
        "lib/cmod.mpy": dl_pack.DEFLATE,
        "lib/tiny.mpy": dl_pack.STORED,
        "main.py": dl_pack.DEFLATE,
    }
    p = write(tmp_path, "s.img", img)
    assert mp("import", p, "cmod")[0][1:] == ["4950", "/mmslot9/lib/cmod.mpy"]
    assert mp("import", p, "tiny")[0][1] == "7"
    assert mp("import", p, "big")[0][1] == "1"
    big = next(f for f in dl_pack.parse(img)["files"] if f[0] == "lib/big.mpy")
    assert big[4] > INFLATE_RAM  # the streaming path


def _refusals(tmp_path, imgs):
    """{name: (code, bad range or None, bytes read)} from one meter run."""
    paths = [write(tmp_path, "%s.img" % name, img) for name, img in imgs.items()]
    out = {}
    for row in mp("verify", *paths):
        bad = None if row[2] == "-" else tuple(map(int, row[2].split("-")))
        out[Path(row[0]).stem] = (int(row[1]), bad, int(row[3]))
    return out


@pytest.mark.parametrize("name", ["lib/cmod.mpy", "lib/big.mpy"])  # in RAM / streamed
def test_damaged_streams_are_refused_with_the_files_range(tmp_path, small, name):
    ents = entries_of(small)
    k = next(i for i, e in enumerate(ents) if e[0] == name)
    path, data, z, _ = ents[k]

    def variant(**kw):
        e = dict(zip(("path", "data", "stored", "method"), ents[k]), **kw)
        return assemble(small, ents[:k] + [tuple(e.values())] + ents[k + 1 :])

    good = variant()
    at, stored = dl_pack.parse(good)["files"][k][3:5]
    flipped = bytearray(good)
    flipped[at + 1] ^= 0x10
    cases = {
        "flipped": bytes(flipped),  # the payload is not under the tag: the stream is checked
        "truncated": variant(stored=z[:-4]),
        "garbage": variant(stored=bytes((7 + 31 * i) % 256 for i in range(len(z)))),  # BTYPE 3
        "longer": variant(data=data + b"\0"),  # SIZE (and hash) one byte beyond the stream
        "shorter": variant(data=data[:-1]),  # the stream goes on past SIZE
        "trailing": variant(stored=z + b"\0"),  # stored bytes the stream does not use
        "empty": variant(stored=b""),
    }
    got = _refusals(tmp_path, cases)
    for name, img in cases.items():
        first = dl_pack.parse(img)["files"][k][3]
        n = dl_pack.parse(img)["files"][k][4]
        assert got[name][:2] == (E_FORMAT, (first, first + n)), name
        with pytest.raises(ValueError):
            dl_pack.verify(img, KEY)
    assert stored == len(z) and at == dl_pack.parse(cases["flipped"])["files"][k][3]


def test_unknown_method_or_stored_length_mismatch_is_refused(tmp_path, small):
    ents = entries_of(small)
    tiny = next(i for i, e in enumerate(ents) if e[0] == "lib/tiny.mpy")
    p, data, _, _ = ents[tiny]
    cases = {
        "method2": assemble(small, ents[:tiny] + [(p, data, data, 2)] + ents[tiny + 1 :]),
        "stored_len": assemble(
            small, ents[:tiny] + [(p, data, data + b"\0", 0)] + ents[tiny + 1 :]
        ),
    }
    got = _refusals(tmp_path, cases)
    for name, img in cases.items():
        assert got[name][0] == E_FORMAT, name
        with pytest.raises(ValueError):
            dl_pack.verify(img, KEY)


def test_a_bomb_stops_at_size_plus_one(tmp_path, small):
    """32 MiB of zeros deflated (about 32 KiB stored) announced as 1000 bytes: refused after
    reading a few hundred stored bytes, not the whole stream (the work is bounded by SIZE)."""
    bomb = dl_pack.deflate(bytes(32 << 20))
    ents = entries_of(small) + [("zz.bin", bytes(1000), bomb, dl_pack.DEFLATE)]
    img = assemble(small, ents)
    at, stored = dl_pack.parse(img)["files"][-1][3:5]
    code, bad, read = _refusals(tmp_path, {"bomb": img})["bomb"]
    assert (code, bad) == (E_FORMAT, (at, at + stored))
    assert stored > 30000 and read < at + 512  # everything before the bomb + a few chunks
    with pytest.raises(ValueError):
        dl_pack.verify(img, KEY)


def _mutations(rnd, good, m, tree, ents):
    deflated = [i for i, f in enumerate(m["files"]) if f[5] == dl_pack.DEFLATE]
    out = []
    for n in range(150):
        i = rnd.choice(deflated)
        at, stored = m["files"][i][3:5]
        kind = n % 3
        if kind == 0:  # bit flips inside the stored stream (the tag still verifies)
            x = bytearray(good)
            for _ in range(rnd.randint(1, 3)):
                x[at + rnd.randrange(stored)] ^= 1 << rnd.randrange(8)
            out.append(bytes(x))
            continue
        p, data, z, meth = ents[i]
        if kind == 1:  # a truncated stream, re-tagged
            z = z[: rnd.randrange(stored)]
        else:  # random bytes of a random length, re-tagged
            z = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 2 * stored)))
        out.append(assemble(tree, ents[:i] + [(p, data, z, meth)] + ents[i + 1 :]))
    return out


def test_fuzzed_deflate_streams_get_a_clear_answer(tmp_path, small):
    rnd = random.Random(20261130)
    ents = entries_of(small)
    good = assemble(small, ents)
    m = dl_pack.parse(good)
    imgs = {"f%03d" % n: img for n, img in enumerate(_mutations(rnd, good, m, small, ents))}
    got = _refusals(tmp_path, imgs)  # the run fails if an exception escapes verify
    ok = 0
    for name, img in imgs.items():
        try:
            dl_pack.verify(img, KEY)
            want = 0  # e.g. a flipped padding bit after the end of block: the same file
        except ValueError:
            want = E_FORMAT
        assert got[name][0] == want, name
        ok += want == 0
        if want:
            assert got[name][1] is not None, name
    assert ok < len(imgs) // 10
