"""PNG snapshots of the unix_sim display (tools/display_png.py): the firmware's simulated glasses
render a known screen, the tool turns their state files into PNGs, and matplotlib's own PNG
decoder reads them back. The segment picture must light exactly the segments docs/display.md §3
assigns to what the screen shows (the tool's map is written from that document, the driver's in
the firmware: the two meet only here)."""

import subprocess

import matplotlib.image
import numpy as np
import pytest

from tools import display_png as dp
from tools.mpenv import ROOT, micropython_exe, mp_env

SCRIPT = """
from drivers.sim.display import SimDisplay
from drivers.sim.ht1621 import SimSegmentDisplay
from screens.frame import Frame, ICON_T2, ICON_RELAY_OPEN, U_KW
f = Frame()
f.set_code(b"1")
f.set_value(b"8.8.8.8.8.8.8.8.")
f.unit = U_KW
f.icons = ICON_T2 | ICON_RELAY_OPEN
SimSegmentDisplay(%r).render(f)
SimDisplay(%r).render(f)
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("display_png")
    seg, pbm = d / "display.seg", d / "display.pbm"
    p = subprocess.run(
        [micropython_exe(), "-c", SCRIPT % (str(seg), str(pbm))],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    return d, seg, pbm


def _rgb(img, x, y, scale):
    px = img[y * scale + scale // 2, x * scale + scale // 2, :3]
    return tuple(int(round(v * 255)) for v in px)


def test_display_png_segment_glass_shows_the_documented_segments(files):
    d, seg, _ = files
    out = d / "seg.png"
    assert dp.main([str(seg), str(out)]) == 0
    img = matplotlib.image.imread(out)
    s = dp.SCALE
    assert img.shape[:2] == (dp.HEIGHT * s, dp.WIDTH * s)
    ink, ghost = dp.INK, dp.GHOST
    for k, box in enumerate(dp.MAIN):  # "8." in every main digit: every segment and point
        for name, (x, y, w, h) in dp.segment_boxes(box).items():
            assert _rgb(img, x + w // 2, y + h // 2, s) == ink, (k, name)
    want = {"b": ink, "c": ink}  # code digit 1 shows "1" (left aligned)
    for name, (x, y, w, h) in dp.segment_boxes(dp.CODE[0]).items():
        assert _rgb(img, x + w // 2, y + h // 2, s) == want.get(name, ghost), name
    for k in (1, 2, 3):
        for x, y, w, h in dp.segment_boxes(dp.CODE[k]).values():
            assert _rgb(img, x + w // 2, y + h // 2, s) == ghost
    lit_labels = set()
    for name, (x, y) in dp.LABELS.items():
        cells = {_rgb(img, x + dx, y + dy, s) for dx in range(3) for dy in range(5)}
        if ink in cells:
            lit_labels.add(name)
    assert lit_labels == {"T2", "OPEN", "kW"}


def test_display_png_dot_matrix_is_the_framebuffer(files):
    d, _, pbm = files
    out = d / "dots.png"
    assert dp.main([str(pbm), str(out), "--scale", "2"]) == 0
    img = matplotlib.image.imread(out)
    w, h, rows = dp.parse_pbm(pbm.read_bytes())
    assert (w, h) == (128, 64)
    on = (img[1::2, 1::2, 0] * 255).round().astype(int) == dp.OLED_ON[0]
    assert on.shape == (64, 128)
    assert np.array_equal(on, np.array(rows, dtype=bool))
    assert on.sum() > 100  # the frame was drawn


def test_display_png_png_is_well_formed_and_compressed(files):
    d, seg, _ = files
    data = dp.png_bytes(2, 1, [[255, 0, 0, 0, 255, 0]])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out = d / "tiny.png"
    out.write_bytes(data)
    img = matplotlib.image.imread(out)
    assert img.shape == (1, 2, 3)
    assert (img[0, 0] * 255).round().tolist() == [255, 0, 0]


def test_display_png_refuses_what_it_cannot_read(files, tmp_path):
    bad = tmp_path / "bad.seg"
    bad.write_text("HT1621 123 on\n")
    assert dp.main([str(bad), str(tmp_path / "x.png")]) == 2
    assert dp.main([str(tmp_path / "missing.seg"), str(tmp_path / "x.png")]) == 2
    short = tmp_path / "short.pbm"
    short.write_bytes(b"P4\n128 64\n" + bytes(100))
    assert dp.main([str(short), str(tmp_path / "x.png")]) == 2
