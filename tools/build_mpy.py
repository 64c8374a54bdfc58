"""`make mpy BOARD=<board>`: a deployable tree of .mpy files cross-compiled for the board's arch.

build/<board>/ gets boot.py and main.py as source (the port runs those by name), everything
else as .mpy, board.txt naming the board, and only the drivers and kernels that board uses.
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.mpenv import FIRMWARE, ROOT, mpy_cross_exe  # noqa: E402

ARCH = {"nucleo_f429zi": "armv7emsp", "esp32_devkitc": "xtensawin", "unix_sim": "x64"}
# Driver modules are per port: a board gets the ones with its prefix and the portable ones.
PORT_PREFIX = {"nucleo_f429zi": "stm32_", "esp32_devkitc": "esp32_", "unix_sim": None}
KEEP_SOURCE = {"boot.py", "main.py"}


def wanted(rel: Path, board: str, arch: str) -> bool:
    name = rel.name
    if name.endswith("_thumb.py") and arch != "armv7emsp":
        return False
    if name.endswith("_xtensa.py") and arch != "xtensawin":
        return False
    parts = rel.parts
    if parts[0] == "drivers":
        if len(parts) > 2 and parts[1] == "sim":
            return board == "unix_sim"
        for b, prefix in PORT_PREFIX.items():
            if prefix and name.startswith(prefix) and b != board:
                return False
    return True


def sources(board):
    arch = ARCH[board]
    for f in sorted(FIRMWARE.rglob("*.py")):
        rel = f.relative_to(FIRMWARE)
        if wanted(rel, board, arch):
            yield f, rel
    yield ROOT / "boards" / "__init__.py", Path("boards/__init__.py")
    yield ROOT / "boards" / f"{board}.py", Path(f"boards/{board}.py")


def build(board, out_root=ROOT / "build"):
    if board not in ARCH:
        raise SystemExit(f"unknown board {board!r}; known: {', '.join(ARCH)}")
    arch = ARCH[board]
    out = out_root / board
    shutil.rmtree(out, ignore_errors=True)
    n = 0
    for src, rel in sources(board):
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel.as_posix() in KEEP_SOURCE:
            shutil.copy(src, dst)
            continue
        mpy = dst.with_suffix(".mpy")
        cmd = [mpy_cross_exe(), f"-march={arch}", "-O1", "-s", rel.as_posix(), "-o", str(mpy)]
        subprocess.run(cmd + [str(src)], check=True)
        n += 1
    (out / "board.txt").write_text(board + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {n} modules for {arch}, {size} bytes")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("board", choices=sorted(ARCH))
    build(ap.parse_args().board)


if __name__ == "__main__":
    main()
