"""Software image packer and independent verifier (docs/download.md §2).

    python tools/dl_pack.py BOARD --version N --key HEX [--tree DIR] [--allow-downgrade]
                            [--format {1,2}] [-o build/BOARD.img]

Packs the cross-compiled tree of one board (`make mpy BOARD=...`, built here unless --tree is
given) into one image: manifest (board, version, .mpy ABI, file table with SHA-256 per file, the
legally relevant part's identification and checksum), the manifest's AES-CMAC under the
download key, then the files. Format 2 (the default) stores each file as raw deflate (zlib
level 9, 1 KiB window) when that makes it smaller, else as it is; format 1 stores every file as
it is. The SHA-256 and the legal checksum are over the uncompressed files in both.
Written from docs/download.md; it shares no code with firmware/
(AES-CMAC from `cryptography`, SHA-256 from hashlib, CRC-32 from zlib), so the packer and the
meter's verifier (firmware/lib/dl/image.py) check each other. `verify()` is the same check in
CPython, used by the tests and the kill test to judge what a meter booted.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import struct
import sys
import zlib
from pathlib import Path

from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import algorithms

ROOT = Path(__file__).resolve().parent.parent
MAGIC = b"MMIG"
FORMAT_1, FORMAT_2 = 1, 2
FLAG_DOWNGRADE = 1
HDR = 48
TAG = 16
STORED, DEFLATE = 0, 1  # METHOD of a format-2 file entry
WBITS = 10  # deflate window 2**10 = 1 KiB: the meter decompresses with this much RAM
LEVEL = 9


def deflate(data: bytes) -> bytes:
    """Raw deflate (RFC 1951, no zlib header) with the meter's window."""
    c = zlib.compressobj(LEVEL, zlib.DEFLATED, -WBITS)
    return c.compress(data) + c.flush()


def inflate(stored: bytes, size: int) -> bytes:
    """The file a deflated entry holds; ValueError unless the stream ends exactly at the end of
    the stored bytes after exactly `size` bytes (at most size + 1 are produced)."""
    d = zlib.decompressobj(-WBITS)
    try:
        out = d.decompress(stored, size + 1)
    except zlib.error as e:
        raise ValueError("deflate: %s" % e) from None
    if len(out) != size or not d.eof or d.unused_data or d.unconsumed_tail:
        raise ValueError("deflate: length")
    return out


LEGAL_SRC = ROOT / "firmware" / "lib" / "datamodel" / "legal.py"


def cmac16(key: bytes, msg: bytes) -> bytes:
    c = _cmac.CMAC(algorithms.AES(bytes(key)))
    c.update(bytes(msg))
    return c.finalize()


def legal_spec(src: Path = LEGAL_SRC):
    """(SW_ID bytes, module names, extensions) as legal.py declares them."""
    tree = ast.parse(src.read_text())
    vals = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("SW_ID", "MODULES", "EXTENSIONS"):
                vals[name] = ast.literal_eval(node.value)
    return vals["SW_ID"], vals["MODULES"], vals["EXTENSIONS"]


def legal_checksum(tree: Path, modules, extensions) -> int:
    """CRC-32 over the legal modules' files of an image tree, each found as the meter's import
    path finds it: lib/ (the portable layers) before the tree root (drivers/, app), and in each
    folder the extensions in order (.mpy before .py); a module found nowhere adds its name."""
    crc = 0
    for name in modules:
        for f in (d / (name + ext) for d in (tree / "lib", tree) for ext in extensions):
            if f.is_file():
                crc = zlib.crc32(f.read_bytes(), crc)
                break
        else:
            crc = zlib.crc32(name.encode(), crc)
    return crc


def tree_files(tree: Path):
    return sorted(p for p in tree.rglob("*") if p.is_file())


def mpy_abi(tree: Path) -> tuple[int, int]:
    """(.mpy version, feature byte of the files with native code: arch << 2 | sub-version, or
    0 when the tree is bytecode only); the meter runs the image only if its port matches."""
    versions, feats = set(), set()
    for p in tree_files(tree):
        if p.suffix == ".mpy":
            b = p.read_bytes()
            versions.add(b[1])
            if b[2]:
                feats.add(b[2])
    if len(versions) != 1 or len(feats) > 1:
        raise SystemExit(f"{tree}: not one built tree (.mpy versions {versions}, arch {feats})")
    return versions.pop(), feats.pop() if feats else 0


def pack(
    tree: Path, board: str, version: int, key: bytes, flags: int = 0, fmt: int = FORMAT_2
) -> bytes:
    """The image of a built tree: each file deflated in format 2 when that makes it smaller."""
    if fmt not in (FORMAT_1, FORMAT_2):
        raise SystemExit(f"image format {fmt}: 1 or 2")
    sw_id, modules, exts = legal_spec()
    entries = []
    for p in tree_files(tree):
        data = p.read_bytes()
        stored, method = data, STORED
        if fmt == FORMAT_2:
            z = deflate(data)
            if len(z) < len(data):
                stored, method = z, DEFLATE
        entries.append((p.relative_to(tree).as_posix(), data, stored, method))
    legal = (sw_id, legal_checksum(tree, modules, exts))
    return assemble(entries, board, version, key, mpy_abi(tree), legal, flags, fmt)


def assemble(entries, board, version, key, abi, legal, flags=0, fmt=FORMAT_2) -> bytes:
    """Manifest + tag + stored bytes of `entries`: (path, file bytes, stored bytes, method),
    SIZE and SHA-256 taken from the file bytes (tests give inconsistent ones on purpose)."""
    table = b""
    for rel, data, stored, method in entries:
        rel = rel.encode()
        if not 0 < len(rel) < 256:
            raise SystemExit(f"path too long for the image: {rel!r}")
        table += bytes([len(rel)]) + rel + struct.pack(">I", len(data))
        if fmt == FORMAT_2:
            table += struct.pack(">IB", len(stored), method)
        table += hashlib.sha256(data).digest()
    mlen = HDR + len(table)
    if mlen > 0xFFFF:
        raise SystemExit("manifest over 64 KiB")
    b = board.encode()
    if len(b) > 16:
        raise SystemExit("board name over 16 characters")
    hdr = MAGIC + struct.pack(
        ">BBH16sIBBHI8sI",
        fmt,
        flags,
        mlen,
        b.ljust(16, b" "),
        version,
        abi[0],
        abi[1],
        len(entries),
        sum(len(e[2]) for e in entries),
        legal[0],
        legal[1],
    )
    assert len(hdr) == HDR
    manifest = hdr + table
    return manifest + cmac16(key, manifest) + b"".join(e[2] for e in entries)


def _table(image: bytes, fmt: int, mlen: int, n: int):
    """The file table: (entries, end of the table, end of the data)."""
    files = []
    off = HDR
    data = mlen + TAG
    for _ in range(n):
        if off >= mlen:
            raise ValueError("file table")
        ln = image[off]
        path = image[off + 1 : off + 1 + ln].decode("ascii", "replace")
        (size,) = struct.unpack_from(">I", image, off + 1 + ln)
        off += 5 + ln
        stored, method = size, STORED
        if fmt == FORMAT_2:
            stored, method = struct.unpack_from(">IB", image, off)
            off += 5
            if method not in (STORED, DEFLATE) or (method == STORED and stored != size):
                raise ValueError("method of " + path)
        files.append((path, size, image[off : off + 32], data, stored, method))
        off += 32
        data += stored
    return files, off, data


def parse(image: bytes) -> dict:
    """The manifest of an image as a dict (no check of the tag); ValueError if malformed.
    "files": (path, size, sha256, data offset, stored bytes, method) per entry."""
    if len(image) < HDR + TAG or image[:4] != MAGIC or image[4] not in (FORMAT_1, FORMAT_2):
        raise ValueError("not an image")
    (fmt, flags, mlen, board, version, m0, m1, n, payload, sw_id, lcrc) = struct.unpack_from(
        ">BBH16sIBBHI8sI", image, 4
    )
    try:
        files, off, data = _table(image, fmt, mlen, n)
    except (IndexError, struct.error):
        raise ValueError("file table") from None
    if off != mlen or data != mlen + TAG + payload:
        raise ValueError("file table")
    return {
        "format": fmt,
        "flags": flags,
        "mlen": mlen,
        "board": board.rstrip(b" ").decode(),
        "version": version,
        "mpy": (m0, m1),
        "files": files,
        "payload": payload,
        "legal_id": sw_id,
        "legal_crc": lcrc,
        "tag": image[mlen : mlen + TAG],
        "size": mlen + TAG + payload,
    }


def verify(image: bytes, key: bytes) -> dict:
    """Parse and check tag, length and every file hash; ValueError naming the first failure."""
    m = parse(image)
    if len(image) != m["size"]:
        raise ValueError("length")
    if cmac16(key, image[: m["mlen"]]) != m["tag"]:
        raise ValueError("tag")
    for path, size, sha, at, stored, method in m["files"]:
        data = image[at : at + stored]
        if method == DEFLATE:
            data = inflate(data, size)
        if hashlib.sha256(data).digest() != sha:
            raise ValueError("hash of " + path)
    return m


def verify_tree(tree: Path, manifest_image: bytes, key: bytes) -> dict:
    """Check an installed slot: its files against a stored manifest+tag (docs/download.md §4)."""
    m = parse(manifest_image)  # manifest + tag only: the file table names the files
    if cmac16(key, manifest_image[: m["mlen"]]) != m["tag"]:
        raise ValueError("tag")
    for path, size, sha, *_ in m["files"]:
        f = tree / path
        if not f.is_file():
            raise ValueError("missing " + path)
        data = f.read_bytes()
        if len(data) != size or hashlib.sha256(data).digest() != sha:
            raise ValueError("hash of " + path)
    return m


# --- transfer messages (docs/download.md §5) --------------------------------------------------

REPROG_LOCAL, REPROG_BROADCAST = 100, 101
OP_BLOCK, OP_STATUS, OP_STATUS_RESP = 1, 2, 0x82
BLOCK_TAG = 4
STATES = {0: "idle", 1: "receiving", 2: "ready", 3: "refused", 4: "activated", 5: "erasing"}
OP_START, OP_ACTIVATE, OP_TAG = 3, 4, 8  # broadcast download_start / _activate (§5.5)


def image_id(image: bytes) -> bytes:
    return parse(image)["tag"][:4]


def nblocks(size: int, bs: int) -> int:
    return (size + bs - 1) // bs


def block_lsdu(key: bytes, image: bytes, n: int, bs: int, broadcast: bool = True) -> bytes:
    """REPROG_BROADCAST (or _LOCAL) LSDU carrying block n of the image."""
    iid = image_id(image)
    data = image[n * bs : (n + 1) * bs]
    tag = cmac16(key, iid + struct.pack(">HB", n, len(data)) + data)[:BLOCK_TAG]
    attr = REPROG_BROADCAST if broadcast else REPROG_LOCAL
    return bytes([attr, OP_BLOCK]) + iid + struct.pack(">H", n) + data + tag


def status_lsdu(iid: bytes, first: int) -> bytes:
    return bytes([REPROG_LOCAL, OP_STATUS]) + iid + struct.pack(">H", first)


def parse_status(lsdu: bytes) -> dict:
    """A REPROG_LOCAL status answer -> dict with the missing blocks it lists."""
    if len(lsdu) < 17 or lsdu[0] != REPROG_LOCAL or lsdu[1] != OP_STATUS_RESP:
        raise ValueError("not a status answer: " + lsdu.hex())
    state, code = lsdu[2], lsdu[3]
    received, total, first, n = struct.unpack_from(">HHHB", lsdu, 4)
    version = struct.unpack_from(">I", lsdu, 11)[0]
    bits = lsdu[17 : 17 + n]
    if len(bits) != n:
        raise ValueError("bitmap length")
    missing = [first + 8 * i + j for i in range(n) for j in range(8) if bits[i] & (0x80 >> j)]
    return {
        "state": state,
        "code": code,
        "received": received,
        "total": total,
        "first": first,
        "n": n,
        "version": version,
        "slot": lsdu[15],
        "trial": lsdu[16],
        "missing": [b for b in missing if b < total],
    }


def relay_args(source: bytes, delay_ms: int) -> bytes:
    """ARGS of COMMAND 0x1B download_relay: the relay's source (route-entry bytes of the
    repeater before it, or 6 zero bytes for the concentrator's own copy) and the delay."""
    if len(source) != 6 or not 0 <= delay_ms <= 0xFFFF:
        raise ValueError("source 6 bytes, delay 0..65535 ms")
    return bytes(source) + struct.pack(">H", delay_ms)


def start_args(image: bytes, bs: int) -> bytes:
    """ARGS of COMMAND 0x18 download_start."""
    return image_id(image) + struct.pack(">IB", len(image), bs)


def _tagged(body: bytes, key: bytes) -> bytes:
    """REPROG_BROADCAST LSDU `65 | body | TAG`, TAG = AES-CMAC(download key, 65 | body)[:8]."""
    lsdu = bytes([REPROG_BROADCAST]) + body
    return lsdu + cmac16(key, lsdu)[:OP_TAG]


def bcast_start_lsdu(key: bytes, image: bytes, bs: int, version: int | None = None) -> bytes:
    """Broadcast download_start (§5.5): `65 03 ID(4) SIZE(4) BS(1) VERSION(4) TAG(8)`;
    VERSION defaults to the image's manifest version."""
    if version is None:
        version = parse(image)["version"]
    body = bytes([OP_START]) + image_id(image) + struct.pack(">IBI", len(image), bs, version)
    return _tagged(body, key)


def bcast_activate_lsdu(key: bytes, iid: bytes, when: int) -> bytes:
    """Broadcast download_activate (§5.5): `65 04 ID(4) TIME(4) TAG(8)`; TIME as COMMAND
    0x19 (seconds since 2000, 0 = at once)."""
    if len(iid) != 4 or not 0 <= when <= 0xFFFFFFFF:
        raise ValueError("id 4 bytes, time u32")
    return _tagged(bytes([OP_ACTIVATE]) + bytes(iid) + struct.pack(">I", when), key)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    ap.add_argument("board")
    ap.add_argument("--version", type=int, required=True, help="release number, u32, increasing")
    ap.add_argument("--key", required=True, help="download key, 32 hex digits")
    ap.add_argument("--tree", type=Path, help="built tree (default: build it with build_mpy)")
    ap.add_argument("--allow-downgrade", action="store_true")
    ap.add_argument("--format", type=int, choices=(FORMAT_1, FORMAT_2), default=FORMAT_2)
    ap.add_argument("-o", "--out", type=Path)
    a = ap.parse_args()
    tree = a.tree
    if tree is None:
        sys.path.insert(0, str(ROOT))
        from tools.build_mpy import build

        tree = build(a.board)
    flags = FLAG_DOWNGRADE * a.allow_downgrade
    img = pack(tree, a.board, a.version, bytes.fromhex(a.key), flags, a.format)
    out = a.out or ROOT / "build" / f"{a.board}.img"
    out.write_bytes(img)
    m = parse(img)
    print(
        f"{out}: format {a.format}, {len(img)} bytes, {len(m['files'])} files, "
        f"{sum(f[1] for f in m['files'])} bytes uncompressed, version {a.version}, "
        f"legal {m['legal_id'].decode()} {m['legal_crc']:08X}, id {m['tag'][:4].hex()}"
    )


if __name__ == "__main__":
    main()
