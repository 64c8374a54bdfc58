"""Shared by the software-download tests: built trees, packed images, and a MicroPython meter
(dl_worker.py) driven line by line with requests from the independent CPython side
(tools/dl_pack.py for images and REPROG messages, tools/smitp_ref.py for sealed COMMANDs)."""

import struct
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
from tools import dl_pack  # noqa: E402
from tools import smitp_ref as ref  # noqa: E402
from tools.build_mpy import build  # noqa: E402
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

KW = "000102030405060708090a0b0c0d0e0f"
KR = "101112131415161718191a1b1c1d1e1f"
KD = "202122232425262728292a2b2c2d2e2f"
ACA = bytes.fromhex("010203040506")
BOARD = "unix_sim"
FACTORY_VERSION = 2  # datamodel.live.FIRMWARE of the source tree
WORKER = str(HERE / "dl_worker.py")
BS = 96


def build_tree(out_root: Path, patch=None) -> Path:
    """build/unix_sim tree; `patch(tree)` may then replace files (a broken or changed image)."""
    tree = build(BOARD, out_root=out_root)
    if patch is not None:
        patch(tree)
    return tree


def compile_into(tree: Path, rel: str, source: str):
    """Replace tree/rel (.mpy) with `source` cross-compiled for the unix port."""
    from tools.mpenv import mpy_cross_exe

    src = tree / (rel + ".src.py")
    src.write_text(source)
    subprocess.run(
        [mpy_cross_exe(), "-march=x64", "-O1", "-s", rel.replace(".mpy", ".py"), "-o"]
        + [str(tree / rel), str(src)],
        check=True,
    )
    src.unlink()


class Meter:
    """One boot of the worker on `state`; `lines` in, answers out."""

    def __init__(self, state: Path):
        self.p = subprocess.Popen(
            [micropython_exe(), WORKER, str(state), KW, KR, KD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=mp_env(),
            cwd=str(ROOT),
        )

    def ask(self, line: str) -> list:
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline().decode().split()
        if not out:
            raise RuntimeError("worker ended: " + line)
        return out

    def send(self, lsdu: bytes, ecc=0, poll=1, bcast=False):
        a = self.ask(f"req {ecc} {poll} {1 if bcast else 0} {lsdu.hex()}")
        return (None if a[1] == "-" else bytes.fromhex(a[1])), int(a[2])

    def info(self):
        a = self.ask("info")
        return {
            "slot": int(a[1]),
            "version": int(a[2]),
            "trial": int(a[3]),
            "tries": int(a[4]),
            "app": a[5],
            "legal_crc": int(a[6], 16),
            "reset": a[7],
            "mixed": int(a[8]),
        }

    def events(self):
        a = self.ask("events")[1:]
        return [(int(c, 16), int(d)) for c, d in (x.split(":") for x in a)]

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=60)


class Dcu:
    """The concentrator's side for the one meter: sealed COMMANDs with the write key."""

    def __init__(self):
        self.m = ref.Master(ACA, ref.Keys.from_hex(KW, KR))

    def command(self, meter: Meter, code: int, args: bytes = b""):
        req = self.m.request(ref.COMMAND_REQ, bytes([code]) + args, ecc=5)
        ans, ecc = meter.send(req.lsdu, ecc=5)
        return self.m.reply(req, ans, ecc)

    def start(self, meter, image, bs=BS):
        """download_start, then the erase the meter's download task runs after it."""
        r = self.command(meter, 0x18, dl_pack.start_args(image, bs))
        meter.ask("erase")
        return r

    def activate(self, meter, when=1):  # a past time: due at once (0 waits ACT_GRACE_S)
        return self.command(meter, 0x19, struct.pack(">I", when))


def send_image(meter: Meter, image: bytes, key: bytes, skip=(), bs=BS):
    """Every block by REPROG_BROADCAST (no answer), except those in `skip`."""
    for n in range(dl_pack.nblocks(len(image), bs)):
        if n not in skip:
            ans, _ = meter.send(dl_pack.block_lsdu(key, image, n, bs), poll=0, bcast=True)
            assert ans is None


def status(meter: Meter, image: bytes, first=0):
    ans, _ = meter.send(dl_pack.status_lsdu(dl_pack.image_id(image), first))
    return dl_pack.parse_status(ans)


def nack(code):
    return bytes([255, code])
