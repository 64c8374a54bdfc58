"""The unix_sim meter shows its display in the terminal (cfg display_echo) and leaves a state
file tools/display_png.py turns into a PNG: both glasses, end to end through firmware/main.py."""

import select
import subprocess
import time

import matplotlib.image

from tools import display_png as dp
from tools.mpenv import ROOT, micropython_exe, mp_env


def _start(tmp_path, *sets):
    args = [micropython_exe(), "firmware/main.py", "--set", "state_dir=%s" % tmp_path]
    for s in sets:
        args += ["--set", s]
    return subprocess.Popen(
        args, env=mp_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _until(p, done, limit_s=30):
    """Output lines of p until done(lines) or limit_s; then the process is stopped."""
    lines = []
    end = time.monotonic() + limit_s
    try:
        while not done(lines) and time.monotonic() < end:
            r, _, _ = select.select([p.stdout], [], [], 0.5)
            if r:
                line = p.stdout.readline()
                if not line:
                    break
                lines.append(line.decode(errors="replace").rstrip("\n"))
    finally:
        p.terminate()
        p.wait(10)
    return lines


def test_display_sim_segment_glass_in_the_terminal_and_as_png(tmp_path):
    p = _start(tmp_path, "display_echo=true")
    lines = _until(p, lambda ls: any(ln.startswith("[") for ln in ls))
    art = [ln for ln in lines if ln.strip()]
    assert art and art[-1].startswith("["), lines  # three rows of digits, then the icons
    assert len(art) >= 4 and any("_" in ln for ln in art[-4:-1]), lines
    seg = tmp_path / "display.seg"
    ram, on = dp.parse_seg(seg.read_text())
    assert on and any(ram)
    out = tmp_path / "display.png"
    assert dp.main([str(seg), str(out)]) == 0
    assert matplotlib.image.imread(out).shape[:2] == (dp.HEIGHT * dp.SCALE, dp.WIDTH * dp.SCALE)


def test_display_sim_dot_matrix_as_png(tmp_path):
    pbm = tmp_path / "display.pbm"
    p = _start(tmp_path, "display=dots", "display_echo=true")
    lines = _until(p, lambda ls: any(ln.startswith("display: ") for ln in ls))
    assert any(ln.startswith("display: 0.2.1 ") for ln in lines), lines  # the sw id first
    w, h, rows = dp.parse_pbm(pbm.read_bytes())
    assert (w, h) == (128, 64) and sum(map(sum, rows)) > 50
    assert dp.main([str(pbm), str(tmp_path / "d.png")]) == 0
