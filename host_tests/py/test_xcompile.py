"""Cross-compile gate: every firmware and board module compiles with mpy-cross for both targets.

Arch-specific kernels compile only for their arch: *_thumb.py for armv7emsp, *_xtensa.py for
xtensawin.
"""

import subprocess

import pytest

from tools.mpenv import FIRMWARE, ROOT, mpy_cross_exe

ARCHS = ("armv7emsp", "xtensawin")


def modules():
    files = sorted(FIRMWARE.rglob("*.py")) + sorted((ROOT / "boards").glob("*.py"))
    for f in files:
        rel = f.relative_to(ROOT).as_posix()
        for arch in ARCHS:
            if f.name.endswith("_thumb.py") and arch != "armv7emsp":
                continue
            if f.name.endswith("_xtensa.py") and arch != "xtensawin":
                continue
            yield pytest.param(f, arch, id=f"{rel}-{arch}")


def test_there_is_firmware_to_compile():
    assert len(list(modules())) > 20


@pytest.mark.parametrize("path,arch", list(modules()))
def test_cross_compiles(path, arch, tmp_path):
    out = tmp_path / "m.mpy"
    p = subprocess.run(
        [mpy_cross_exe(), f"-march={arch}", "-o", str(out), str(path)],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert out.stat().st_size > 0
