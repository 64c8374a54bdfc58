"""`make bench-dl`: software download figures (docs/download.md §10, §11). Figures only.

1. Image size per board: `make mpy` tree packed by tools/dl_pack.py (files, manifest, total),
   format 1 (files as they are) against format 2 (files deflated, 1 KiB window), and the ratio.
2. Time to verify the unix_sim image from its slot on the unix port (dl.bootsel.Slots.verify:
   manifest CMAC + SHA-256 of every file, read through the SimFlash slot; format 2 decompresses
   the deflated files through DeflateIO), format 1 and 2, and raw SHA-256.
2b. Format 2 on the unix port: heap growth of opening and reading the largest deflated file
   through the image VFS (gc.mem_alloc, no collection), and the time to import every module of
   the tree from a mounted slot, format 1 against format 2.
3. Transfer arithmetic: blocks, frame bytes, time on air per block frame (phy.profile), the
   lower bound image size / 4800 bit/s, and what one and four transmissions per block cost
   (direct, and every block repeated by three repeater levels).
4. One edwards25519 scalar multiplication in pure MicroPython (the cost of a signature check).
5. The slot erase after download_start on the unix port (SimFlash, 4 KiB units): the longest
   single step of the download task (what the loop waits for) against the whole erase.
6. The kill test with DL_KILLS kills (default 200): host_tests/py/test_dl_kill.py.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools import dl_pack  # noqa: E402
from tools.build_mpy import build  # noqa: E402
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

KEY = bytes(range(0x20, 0x30))
BS = 96
MAC_HDR = 11  # docs/datalink.md §1: frame bytes around the LSDU
SLOT_BLOCKS = 128  # unix_sim slot: 128 x 4 KiB (docs/download.md §3)

# The unix_sim slot 1 of a SimFlash file (argv 1) under the key (argv 2), as the boot sees it.
MP_SLOT_OPEN = (
    r"""
import gc, hashlib, sys, time
from drivers.sim.flash import SimFlash
from dl import bootsel, image
path, key = sys.argv[1], bytes.fromhex(sys.argv[2])
dev = SimFlash(path, 4096, %d)
s = bootsel.Slots(None, [None, dev], "unix_sim", bootsel.port_mpy(), key, hashlib.sha256)
s.key = lambda: key
"""
    % SLOT_BLOCKS
)

MP_VERIFY = (
    MP_SLOT_OPEN
    + r"""
from phy import profile
n = 5
t = time.ticks_us()
for _ in range(n):
    code, m = s.verify(1)
dt = time.ticks_diff(time.ticks_us(), t) // n
assert code == 0, code
h = hashlib.sha256()
b = bytes(4096)
t = time.ticks_us()
for _ in range(256):
    h.update(b)
sha = time.ticks_diff(time.ticks_us(), t)
print("verify_us", dt, "sha256_us_per_mib", sha)
for nb in (14, 119, 135):
    print("airtime_us", nb, profile.airtime_us(nb))
"""
)

# Mount a slot image, then import every module of its tree (not main/boot: they run the meter);
# one process per slot, so no module is loaded twice. With `heap PATH`: the heap growth of
# opening PATH and reading it through one 256-byte buffer.
MP_SLOT = (
    MP_SLOT_OPEN
    + r"""
import vfs
from dl.imgvfs import ImageVfs
code, m = s.verify(1)
assert code == 0, code
v = ImageVfs(s.reader(1), m)
if sys.argv[3] == "heap":
    buf = bytearray(256)
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    f = v.open(sys.argv[4], "rb")
    a1 = gc.mem_alloc()
    while f.readinto(buf):
        pass
    print("heap_open_read", a1 - a0, gc.mem_alloc() - a1)
    gc.enable()
    raise SystemExit
vfs.mount(v, "/mmslot1")
sys.path[:0] = ["/mmslot1", "/mmslot1/lib"]
bootsel._forget_modules(sys.modules)
names = []
for p, size, sha, at, stored, method in image.entries(s.reader(1), m):
    if p.endswith(".mpy"):
        n = p[4:] if p.startswith("lib/") else p
        names.append(n[:-4].replace("/", "."))
gc.collect()
ok = bad = 0
t = time.ticks_us()
for n in names:
    try:
        __import__(n)
        ok += 1
    except ImportError:  # a module of another port (machine.X the unix port lacks)
        bad += 1
dt = time.ticks_diff(time.ticks_us(), t)
print("import_us", dt, ok, bad)
"""
)


# One 253-bit scalar multiplication on edwards25519 in pure MicroPython (long integers, extended
# coordinates, double-and-add, written here from the curve's definition): an Ed25519 or ECDSA
# verify costs about two of these plus the hashing.
MP_ED25519 = r"""
import time
P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
# base point: y = 4/5, x recovered (RFC 8032 5.1.3 recovery; even x)
def recover_x(y):
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    return P - x if x & 1 else x
BY = 4 * pow(5, P - 2, P) % P
B = (recover_x(BY), BY, 1, recover_x(BY) * BY % P)
def add(p, q):  # extended twisted Edwards (a = -1), unified addition
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)
def mul(s, p):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = add(q, p)
        p = add(p, p)
        s >>= 1
    return q
s = 2**252 + 27742317777372353535851937790883648493 - 12345
t = time.ticks_us()
q = mul(s, B)
dt = time.ticks_diff(time.ticks_us(), t)
print("scalar_mult_us", dt)
"""

MP_ERASE = r"""
import sys, time
from drivers.sim.flash import SimFlash
from dl import bootsel, transfer
path, size = sys.argv[1], int(sys.argv[2])
class Store:
    d = {}
    def get(self, k):
        return self.d.get(k)
    def put(self, k, v):
        self.d[k] = bytes(v)
dev = SimFlash(path, 4096, 128)
s = bootsel.Slots(Store(), [None, dev, dev], "unix_sim", bootsel.port_mpy(), bytes(16), None)
t = transfer.Transfer(s, s.store, None, lambda c, d: None)
assert t.start(b"1234", size, 96, 0) == 0
worst = total = units = 0
while t.state == transfer.ERASING:
    a = time.ticks_us()
    t.erase_step()
    dt = time.ticks_diff(time.ticks_us(), a)
    worst, total, units = max(worst, dt), total + dt, units + 1
print("erase", units, worst, total)
"""


def mp_run(script: Path, *args) -> list:
    r = subprocess.run(
        [micropython_exe(), str(script), *map(str, args)],
        env=mp_env(),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
    )
    if r.returncode:
        raise SystemExit(r.stderr + r.stdout)
    return [ln.split() for ln in r.stdout.splitlines()]


def slot_file(out: Path, name: str, img: bytes) -> Path:
    slot = out / name
    slot.write_bytes(img + b"\xff" * (SLOT_BLOCKS * 4096 - len(img)))
    return slot


def main():
    print("== image per board (tools/dl_pack.py over `make mpy`), format 1 against format 2")
    out = Path(tempfile.mkdtemp(prefix="bench_dl_"))
    images = {}
    for board in ("nucleo_f429zi", "esp32_devkitc", "unix_sim"):
        tree = build(board, out_root=out)
        one = dl_pack.pack(tree, board, 3, KEY, fmt=dl_pack.FORMAT_1)
        img = dl_pack.pack(tree, board, 3, KEY)
        m = dl_pack.parse(img)
        images[board] = img
        images[board + "/1"] = one
        nz = sum(f[5] == dl_pack.DEFLATE for f in m["files"])
        print(
            f"  {board:14s} {len(m['files'])} files ({nz} deflated), format 1: manifest "
            f"{dl_pack.parse(one)['mlen']} B, image {len(one)} B; format 2: manifest "
            f"{m['mlen']} B, image {len(img)} B ({len(img) / 1024:.1f} KiB); "
            f"{len(one) / len(img):.3f}x smaller"
        )
    script = out / "verify_mp.py"
    script.write_text(MP_VERIFY)
    air = {}
    for fmt in ("1", "2"):
        img = images["unix_sim/1" if fmt == "1" else "unix_sim"]
        for f in mp_run(script, slot_file(out, "slot1.bin", img), KEY.hex()):
            if f[0] == "verify_us":
                if fmt == "1":
                    print("== verify on the unix port (this PC)")
                print(
                    f"  whole unix_sim image from its slot, format {fmt}: "
                    f"{int(f[1]) / 1000:.1f} ms"
                )
                sha = int(f[3])
            else:
                air[int(f[1])] = int(f[2])
    print(f"  hashlib SHA-256: {sha / 1000:.1f} ms per MiB")
    print("== format 2 through the image VFS (unix port, this PC)")
    slot = out / "slot_mp.py"
    slot.write_text(MP_SLOT)
    m = dl_pack.parse(images["unix_sim"])
    big = max((f for f in m["files"] if f[5] == dl_pack.DEFLATE), key=lambda f: f[1])
    f = mp_run(slot, slot_file(out, "slot2.bin", images["unix_sim"]), KEY.hex(), "heap", big[0])
    print(
        f"  heap growth opening {big[0]} ({big[1]} B, {big[4]} B stored): {f[0][1]} B, "
        f"reading it to the end: {f[0][2]} B more (no collection)"
    )
    for fmt, name in (("1", "unix_sim/1"), ("2", "unix_sim")):
        best = None
        for _ in range(3):
            f = mp_run(slot, slot_file(out, "slot3.bin", images[name]), KEY.hex(), "import")
            best = min(best or f[0], f[0], key=lambda r: int(r[1]))
        print(
            f"  import every module from a format-{fmt} slot: {int(best[1]) / 1000:.1f} ms "
            f"({best[2]} modules; {best[3]} of other ports not importable here; best of 3)"
        )
    print("== transfer arithmetic (PHY profile v1, 4800 bit/s net)")
    for board in ("nucleo_f429zi", "nucleo_f429zi/1", "unix_sim", "unix_sim/1"):
        size = len(images[board])
        nb = dl_pack.nblocks(size, BS)
        frame = MAC_HDR + 1 + 1 + 4 + 2 + BS + dl_pack.BLOCK_TAG
        t_air = air[frame] / 1e6
        bound = size * 8 / 4800
        print(
            f"  {board.replace('/1', ' format 1')}: {nb} blocks of {BS} B in {frame}-byte "
            f"frames, {t_air * 1000:.0f} ms on air each; bound {bound:.0f} s; one transmission "
            f"per block {nb * t_air:.0f} s ({nb * t_air / bound:.2f}x); four (three repeater "
            f"levels) {4 * nb * t_air:.0f} s ({4 * nb * t_air / bound:.2f}x)"
        )
    script.write_text(MP_ERASE)
    r = subprocess.run(
        [micropython_exe(), str(script), str(out / "erase.bin"), str(len(img))],
        env=mp_env(),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        check=True,
    )
    _, units, worst, total = r.stdout.split()
    print("== slot erase in the download task (unix port, SimFlash 4 KiB units)")
    print(
        f"  unix_sim image: {units} units, the longest step {int(worst) / 1000:.1f} ms "
        f"(the loop's longest wait), all {int(total) / 1000:.1f} ms (what download_start "
        "used to hold the loop for, plus the units beyond the image)"
    )
    script.write_text(MP_ED25519)
    r = subprocess.run([micropython_exe(), str(script)], capture_output=True, text=True)
    us = int(r.stdout.split()[1])
    print("== asymmetric signature in pure MicroPython (unix port, this PC)")
    print(
        f"  one edwards25519 scalar multiplication: {us / 1000:.1f} ms; a verify needs about two "
        f"(~{2 * us / 1000:.0f} ms here); bignum code on an M4 at 180 MHz runs 100x or more slower"
    )
    kills = os.environ.get("DL_KILLS", "200")
    print(f"== {kills} kills during download, activation and first boot")
    env = dict(os.environ, DL_KILLS=kills)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "host_tests/py/test_dl_kill.py"],
        cwd=str(ROOT),
        env=env,
        check=True,
    )


if __name__ == "__main__":
    main()
