"""PNG snapshot of the unix_sim meter display (CPython; PNG written with zlib and struct).

    python tools/display_png.py build/sim/meter/display.seg display.png
    python tools/display_png.py build/sim/meter/display.pbm display.png

A `.seg` file is the simulated HT1621's RAM ("HT1621 <32 hex nibbles> on|off", written by
firmware/drivers/sim/ht1621.py); it is drawn as the glass of docs/display.md §3: lit segments
black, unlit ones pale grey as on a real LCD. The glass map here is written from that document,
not imported from the firmware, so a picture that disagrees with the document shows up in
host_tests/py/test_display_png.py. A `.pbm` (P4) file is the SSD1306 framebuffer, drawn white on
dark blue, each pixel SCALE x SCALE.
"""

import argparse
import struct
import sys
import zlib

SCALE = 3
INK = (20, 20, 20)
GHOST = (200, 206, 196)
GLASS = (226, 232, 220)
OLED_ON = (230, 240, 255)
OLED_OFF = (10, 20, 60)

# glass geometry (unscaled pixels): digit boxes (x, y, w, h, stroke)
MAIN = [(8 + 30 * k, 34, 20, 36, 4) for k in range(8)]
CODE = [(8 + 15 * k, 6, 10, 18, 2) for k in range(4)]
# icon and unit labels on the bottom row and beside the code digits: (name, x, y)
LABELS = {
    "T1": (80, 8),
    "T2": (96, 8),
    "T3": (112, 8),
    "T4": (128, 8),
    "->": (150, 8),
    "<-": (166, 8),
    "OPEN": (190, 8),
    "ARM": (212, 8),
    "COM": (8, 82),
    "ALM": (26, 82),
    "kvarh": (60, 82),
    "Hz": (86, 82),
    "kWh": (110, 82),
    "kW": (130, 82),
    "V": (146, 82),
    "A": (154, 82),
}
WIDTH, HEIGHT = 252, 92
# docs/display.md §3: icons and units by (SEG, COM)
ICON_SEGS = {
    (24, 0): "T1",
    (24, 1): "T2",
    (24, 2): "T3",
    (24, 3): "T4",
    (25, 0): "->",
    (25, 1): "<-",
    (25, 2): "OPEN",
    (25, 3): "ARM",
    (26, 0): "COM",
    (26, 1): "ALM",
    (26, 2): "kvarh",
    (26, 3): "Hz",
    (27, 0): "kWh",
    (27, 1): "kW",
    (27, 2): "V",
    (27, 3): "A",
}
SEGMENT_NAMES = "abcdefgp"  # p = decimal point

# 3x5 pixel letters for the labels, rows top to bottom, bit 2 = left column
FONT = {
    "T": (7, 2, 2, 2, 2),
    "1": (2, 6, 2, 2, 7),
    "2": (6, 1, 2, 4, 7),
    "3": (6, 1, 2, 1, 6),
    "4": (5, 5, 7, 1, 1),
    "-": (0, 0, 7, 0, 0),
    ">": (4, 2, 1, 2, 4),
    "<": (1, 2, 4, 2, 1),
    "O": (7, 5, 5, 5, 7),
    "P": (6, 5, 6, 4, 4),
    "E": (7, 4, 6, 4, 7),
    "N": (5, 7, 7, 5, 5),
    "A": (2, 5, 7, 5, 5),
    "R": (6, 5, 6, 5, 5),
    "M": (5, 7, 7, 5, 5),
    "C": (7, 4, 4, 4, 7),
    "L": (4, 4, 4, 4, 7),
    "k": (4, 5, 6, 5, 5),
    "v": (0, 5, 5, 5, 2),
    "a": (0, 6, 3, 5, 7),
    "r": (0, 6, 5, 4, 4),
    "h": (4, 4, 6, 5, 5),
    "W": (5, 5, 7, 7, 5),
    "V": (5, 5, 5, 5, 2),
    "H": (5, 5, 7, 5, 5),
    "z": (0, 7, 1, 2, 7),
}


def segment_boxes(box):
    """{segment letter: (x, y, w, h)} of one 7-segment digit drawn in box (x, y, w, h, t)."""
    x, y, w, h, t = box
    half = h // 2
    return {
        "a": (x + t, y, w - 2 * t, t),
        "b": (x + w - t, y + t, t, half - t),
        "c": (x + w - t, y + half, t, half - t),
        "d": (x + t, y + h - t, w - 2 * t, t),
        "e": (x, y + half, t, half - t),
        "f": (x, y + t, t, half - t),
        "g": (x + t, y + half - t // 2, w - 2 * t, t),
        "p": (x + w + t // 2, y + h - t, t, t),
    }


def digit_segs(k):
    """docs/display.md §3: digit k's segments by (SEG, COM): digit RAM byte k holds SEG 2k
    (COM0..3 = a b c d) and SEG 2k + 1 (COM0..3 = e f g dp); main digits k = 0..7, code
    digits k = 8..11."""
    return {SEGMENT_NAMES[i]: ((2 * k if i < 4 else 2 * k + 1), i % 4) for i in range(8)}


def parse_seg(text):
    """(nibbles[32], on) of a state line 'HT1621 <32 hex> on|off'."""
    parts = text.split()
    if len(parts) != 3 or parts[0] != "HT1621" or len(parts[1]) != 32:
        raise ValueError("not an HT1621 state line: %r" % text[:60])
    return [int(c, 16) for c in parts[1]], parts[2] == "on"


def lit(ram, seg, com):
    return bool(ram[seg] >> com & 1)


class Canvas:
    def __init__(self, w, h, bg):
        self.w = w
        self.h = h
        self.px = [list(bg) * w for _ in range(h)]

    def rect(self, x, y, w, h, rgb):
        for yy in range(max(0, y), min(self.h, y + h)):
            row = self.px[yy]
            for xx in range(max(0, x), min(self.w, x + w)):
                row[3 * xx : 3 * xx + 3] = rgb

    def label(self, text, x, y, rgb):
        for ch in text:
            rows = FONT.get(ch)
            if rows is not None:
                for dy, bits in enumerate(rows):
                    for dx in range(3):
                        if bits >> (2 - dx) & 1:
                            self.rect(x + dx, y + dy, 1, 1, rgb)
            x += 4

    def scaled(self, s):
        out = []
        for row in self.px:
            big = []
            for i in range(0, len(row), 3):
                big.extend(row[i : i + 3] * s)
            out.extend([big] * s)
        return self.w * s, self.h * s, out


def glass_canvas(ram, on):
    c = Canvas(WIDTH, HEIGHT, GLASS)
    for boxes, first in ((MAIN, 0), (CODE, 8)):
        for k, box in enumerate(boxes):
            segs = digit_segs(first + k)
            for name, r in segment_boxes(box).items():
                c.rect(*r, INK if on and lit(ram, *segs[name]) else GHOST)
    for (seg, com), name in ICON_SEGS.items():
        x, y = LABELS[name]
        c.label(name, x, y, INK if on and lit(ram, seg, com) else GHOST)
    return c


def parse_pbm(data):
    """(w, h, rows of 0/1) of a binary PBM (P4, no comments)."""
    fields = data.split(None, 3)
    if len(fields) < 4 or fields[0] != b"P4" or not (fields[1] + fields[2]).isdigit():
        raise ValueError("not a binary PBM")
    w, h = int(fields[1]), int(fields[2])
    stride = (w + 7) // 8
    pixels = data[len(data) - h * stride :]
    if len(fields[3]) < h * stride:
        raise ValueError("PBM shorter than %d x %d" % (w, h))
    rows = []
    for y in range(h):
        line = pixels[y * stride : (y + 1) * stride]
        rows.append([line[x >> 3] >> (7 - (x & 7)) & 1 for x in range(w)])
    return w, h, rows


def pbm_canvas(w, h, rows):
    c = Canvas(w, h, OLED_OFF)
    for y in range(h):
        for x in range(w):
            if rows[y][x]:
                c.rect(x, y, 1, 1, OLED_ON)
    return c


def png_bytes(w, h, rows):
    """An 8-bit RGB PNG (colour type 2), each row filter 0."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def convert(src, dst, scale=SCALE):
    with open(src, "rb") as f:
        data = f.read()
    if data.startswith(b"HT1621"):
        c = glass_canvas(*parse_seg(data.decode("ascii")))
    else:
        c = pbm_canvas(*parse_pbm(data))
    png = png_bytes(*c.scaled(scale))
    with open(dst, "wb") as f:
        f.write(png)
    return len(png)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="display.seg or display.pbm from the unix_sim state directory")
    ap.add_argument("dst", help="PNG file to write")
    ap.add_argument("--scale", type=int, default=SCALE)
    a = ap.parse_args(argv)
    try:
        n = convert(a.src, a.dst, a.scale)
    except (OSError, ValueError) as e:
        print("display_png: %s" % e, file=sys.stderr)
        return 2
    print("wrote %s (%d bytes)" % (a.dst, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
