"""Generate the worked example of docs/download.md from the packer (`make docs`): the image of
§2.4 (hex dump and its byte table) and the messages of §5.1, §5.2, §5.4, §5.5 and §6 that
carry it.

The example tree has two files, `lib/a.mpy` (`X = 1` cross-compiled for armv7emsp; deflate
would not make it smaller, so it is stored as it is) and `main.py` (`print("hi")` four times,
stored deflated), packed by tools/dl_pack.py in format 2 for nucleo_f429zi, version 3, download
key 20 21 .. 2F. The deflate stream of main.py is listed symbol by symbol by a fixed-Huffman
decoder written here from RFC 1951 3.2.6 (independent of zlib and of the meter's DeflateIO).
Its legal checksum is the CRC-32 of the names in datamodel/legal.py MODULES (no legal module is
in the tree), so the example changes whenever that list does. `--check` exits 1 when
docs/download.md is stale.
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import dl_pack  # noqa: E402
from tools import mm_frame as mm  # noqa: E402
from tools.docgen import write_or_check  # noqa: E402
from tools.mpenv import ROOT, mpy_cross_exe  # noqa: E402

DOC = ROOT / "docs" / "download.md"
KEY = bytes(range(0x20, 0x30))
BOARD = "nucleo_f429zi"
VERSION = 3
BS = 32
RELAY_ACA = bytes.fromhex("4d4d00000201")  # the relay of §5.4's example
MAIN_PY = 'print("hi")\n' * 4

# RFC 1951 3.2.5: base and extra bits of the length codes 257..285 and distance codes 0..29
_LEN_BASE = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83)
_LEN_BASE += (99, 115, 131, 163, 195, 227, 258)
_LEN_EXTRA = (0,) * 8 + (1,) * 4 + (2,) * 4 + (3,) * 4 + (4,) * 4 + (5,) * 4 + (0,)
_DIST_BASE = (1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769)
_DIST_BASE += (1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577)
_DIST_EXTRA = (0, 0, 0, 0) + tuple(i // 2 for i in range(2, 28))


def example_tree(t: Path) -> Path:
    """The 2-file tree of §2.4 under t."""
    (t / "lib").mkdir(parents=True)
    (t / "lib" / "a.py").write_text("X = 1\n")
    subprocess.run(
        [mpy_cross_exe(), "-march=armv7emsp", "-O1", "-s", "lib/a.py", "-o"]
        + [str(t / "lib" / "a.mpy"), str(t / "lib" / "a.py")],
        check=True,
    )
    (t / "lib" / "a.py").unlink()
    (t / "main.py").write_text(MAIN_PY)
    return t


def example_image() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        return dl_pack.pack(example_tree(Path(d) / "ex"), BOARD, VERSION, KEY)


def fixed_huffman_symbols(stream: bytes) -> list:
    """The symbols of a one-block raw deflate stream with fixed Huffman codes (RFC 1951 3.2.6):
    ("lit", byte), ("match", length, distance), ("end",)."""
    bits = [(b >> i) & 1 for b in stream for i in range(8)]
    pos = 0

    def lsb(n):  # extra bits and the block header: least significant bit first
        nonlocal pos
        v = sum(bits[pos + i] << i for i in range(n))
        pos += n
        return v

    def msb(n):  # Huffman codes: most significant bit first
        nonlocal pos
        v = 0
        for _ in range(n):
            v = v << 1 | bits[pos]
            pos += 1
        return v

    if (lsb(1), lsb(2)) != (1, 1):
        raise ValueError("not one final block with fixed codes")
    out = []
    while True:
        c = msb(7)
        if c <= 0x17:
            sym = 256 + c
        else:
            c = c << 1 | msb(1)
            if c <= 0xBF:
                sym = c - 0x30
            elif c <= 0xC7:
                sym = 280 + c - 0xC0
            else:
                sym = 144 + (c << 1 | msb(1)) - 0x190
        if sym < 256:
            out.append(("lit", sym))
        elif sym == 256:
            out.append(("end",))
            return out
        else:
            i = sym - 257
            length = _LEN_BASE[i] + lsb(_LEN_EXTRA[i])
            d = msb(5)
            out.append(("match", length, _DIST_BASE[d] + lsb(_DIST_EXTRA[d])))


def describe_deflate(stream: bytes) -> str:
    syms = fixed_huffman_symbols(stream)
    lits = [s[1] for s in syms if s[0] == "lit"]
    matches = ["a match of length %d at distance %d" % s[1:] for s in syms if s[0] == "match"]
    return (
        "raw deflate, one final block with fixed Huffman codes (first byte: BFINAL 1, "
        "BTYPE 01): %d literals `%s`, then %s, end of block"
        % (len(lits), bytes(lits).decode().replace("\n", "\\n"), ", ".join(matches))
    )


def _hex(b: bytes) -> str:
    return " ".join("%02X" % x for x in b)


def _span(a: int, n: int) -> str:
    return "%04X–%04X" % (a, a + n - 1)


def dump(img: bytes) -> str:
    return "\n".join("%04X  %s" % (i, _hex(img[i : i + 16])) for i in range(0, len(img), 16))


def section(img: bytes) -> str:
    """§2.4 from its heading to the next section."""
    m = dl_pack.parse(img)
    board = m["board"]
    rows = [
        (
            _span(0, 8),
            "`MMIG`, format %d, flags %d, MLEN 0x%04X (%d)"
            % (m["format"], m["flags"], *[m["mlen"]] * 2),
        ),
        (_span(8, 16), "`%s` + %d spaces" % (board, 16 - len(board))),
        (_span(24, 4), "version %d" % m["version"]),
        (
            _span(28, 2),
            "`.mpy` version %d, feature byte %d (no native code in these files)" % m["mpy"],
        ),
        (
            _span(30, 6),
            "%d files, PAYLOAD 0x%02X (%d: the stored bytes)"
            % (len(m["files"]), *[m["payload"]] * 2),
        ),
        (
            _span(36, 12),
            "`%s`, legal CRC 0x%08X (no legal module in this tree: CRC of the names)"
            % (m["legal_id"].decode(), m["legal_crc"]),
        ),
    ]
    off = dl_pack.HDR
    for k, (path, size, sha, _at, stored, method) in enumerate(m["files"], 1):
        n = 42 + len(path)
        rows.append(
            (
                _span(off, n),
                "entry %d: %02X `%s`, SIZE 0x%02X (%d), STORED 0x%02X (%d), METHOD %d (%s), "
                "SHA-256 of the uncompressed file `%s … %s`"
                % (
                    k,
                    len(path),
                    path,
                    size,
                    size,
                    stored,
                    stored,
                    method,
                    "deflate" if method == dl_pack.DEFLATE else "stored",
                    _hex(sha[:2]),
                    _hex(sha[-2:]),
                ),
            )
        )
        off += n
    rows.append((_span(off, dl_pack.TAG), "TAG `%s`" % _hex(m["tag"])))
    for path, _size, _sha, at, stored, method in m["files"]:
        what = "`%s` (starts `%s`)" % (path, _hex(img[at : at + 4]))
        if method == dl_pack.DEFLATE:
            what = "`%s`: %s" % (path, describe_deflate(img[at : at + stored]))
        rows.append((_span(at, stored), what))
    sizes = " and ".join(
        "`%s` (%d bytes, %s)"
        % (p, s, "from `X = 1`" if p.endswith(".mpy") else '`print("hi")\\n` four times')
        for p, s, *_ in m["files"]
    )
    out = [
        "### 2.4 Example (a 2-file tree for `%s`, version %d, key `20 21 … 2F`)"
        % (board, VERSION),
        "",
        "Generated by `tools/gen_dl_example.py` (`make docs`) with the packer.",
        "",
        "Files: %s." % sizes,
        "",
        "```",
        dump(img),
        "```",
        "",
        "| bytes | meaning |",
        "|---|---|",
    ]
    out += ["| %s | %s |" % r for r in rows]
    out += [
        "",
        "Image id `%s`; %d bytes. `host_tests/py/test_dl_image.py` rebuilds this example with the"
        % (_hex(m["tag"][:4]), len(img)),
        "packer and checks every byte, and the meter's verifier accepts it.",
        "",
        "",
    ]
    return "\n".join(out)


def flood_frame(img: bytes, relay: bytes | None = None) -> bytes:
    """Block 0 of the flood (§5.4) as the concentrator sends it (no route), or as `relay`
    relays it (one route entry, hop 1): data-link frames of tools/mm_frame.py."""
    route = [relay] if relay else []
    lsdu = dl_pack.block_lsdu(KEY, img, 0, BS)
    return mm.Frame(mm.BROADCAST, lsdu, mm.DISC_S, route, hop=len(route)).encode()


def render(doc: str, img: bytes) -> str:
    a = doc.index("### 2.4 ")
    b = doc.index("## 3. ", a)
    doc = doc[:a] + section(img) + doc[b:]
    last = dl_pack.nblocks(len(img), BS) - 1
    subs = (
        (
            r"(Example \(block 0, BS 32, image of §2\.4\):\n`)[0-9A-F ]+`",
            dl_pack.block_lsdu(KEY, img, 0, BS),
        ),
        (
            r"(— the last block \(\d+, \d+ bytes\) by REPROG_LOCAL: `)[0-9A-F ]+`",
            dl_pack.block_lsdu(KEY, img, last, BS, broadcast=False),
        ),
        (r"(Example request: `)[0-9A-F ]+`", dl_pack.status_lsdu(dl_pack.image_id(img), 0)),
        (
            r"(`download_start` for §2\.4 with BS 32: DATA `)[0-9A-F ]+`",
            bytes([0x18]) + dl_pack.start_args(img, BS),
        ),
        (r"(Block 0 as the concentrator sends it:\n`)[0-9A-F ]+`", flood_frame(img)),
        (r"(\nSTART `)[0-9A-F ]+`", dl_pack.bcast_start_lsdu(KEY, img, BS)),
        (
            r"(\nACTIVATE at once `)[0-9A-F ]+`",
            dl_pack.bcast_activate_lsdu(KEY, dl_pack.image_id(img), 0),
        ),
        (
            r"(\nACTIVATE in 30 s `)[0-9A-F ]+`",
            dl_pack.bcast_activate_lsdu(KEY, dl_pack.image_id(img), 30),
        ),
        (
            r"(and as the relay `4D 4D 00 00 02 01` sends it:\n`)[0-9A-F ]+`",
            flood_frame(img, RELAY_ACA),
        ),
    )
    for pat, msg in subs:
        doc, n = re.subn(pat, lambda mo, msg=msg: mo.group(1) + _hex(msg) + "`", doc)
        if n != 1:
            raise SystemExit("docs/download.md: no single place for %r" % pat)
    return re.sub(
        r"— the last block \(\d+, \d+ bytes\)",
        "— the last block (%d, %d bytes)" % (last, len(img) - last * BS),
        doc,
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/download.md is stale")
    a = ap.parse_args(argv)
    return write_or_check(DOC, render(DOC.read_text(), example_image()), a.check)


if __name__ == "__main__":
    sys.exit(main())
