"""The asm_thumb direct-ADC metering kernel (metrology/adc_thumb.py) executed on an emulated
Cortex-M4 (tools/thumb_emu.py) against the viper kernel executed in Unix MicroPython, word for
word over sequences of blocks (state carried from block to block), plus its instruction count."""

import json
import math
import random
import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "host_tests" / "py"))
from test_thumb_kernels import run_mp  # noqa: E402

from tools import thumb_emu  # noqa: E402

KERN = ROOT / "firmware" / "lib" / "metrology" / "adc_thumb.py"
ST_SIZE, ST_WORDS, RING = 28, 48, 64

MP_RUN = (
    r"""
import sys, json
from array import array
from metrology.adc_viper import run
out = []
for c in json.loads(sys.stdin.read()):
    st = array('i', c['st'])
    ring = array('h', c['ring'])
    res = []
    for b in c['blocks']:
        buf = array('h', b)
        r = run(buf, len(b) // 2, st, ring)
        res.append([r, list(st)[:%d], list(ring)])
    out.append(res)
print(json.dumps(out))
"""
    % ST_SIZE
)


def fresh_state(dq, hys=24, cmin=56, cmax=120, dcv=2048, dci=2040, st0=None):
    st = [0] * ST_WORDS
    st[11], st[12], st[13] = dcv, dci, dq
    st[21], st[22], st[23], st[24], st[25], st[26] = 0x7FFFFFFF, 0, hys, cmin, cmax, 8192
    if st0:
        for k, v in st0.items():
            st[k] = v
    return st


def wave(rng, n, f, av, ai, phi, noise=2, clip=0, dcv=2048, dci=2040, fs=4000.0):
    out = []
    for k in range(n):
        th = 2 * math.pi * f * k / fs
        x = int(round(dcv + av * math.sin(th) + rng.uniform(-noise, noise)))
        y = int(round(dci + ai * math.sin(th - phi) + rng.uniform(-noise, noise)))
        if clip and rng.random() < clip:
            y = rng.choice((0, 4095))
        out += [max(0, min(4095, x)), max(0, min(4095, y))]
    return out


def split(rng, codes, sizes):
    blocks, pos = [], 0
    for n in sizes:
        blocks.append(codes[2 * pos : 2 * (pos + n)])
        pos += n
    return blocks


def cases():
    rng = random.Random(11)
    out = []
    specs = [
        # (f, av, ai, phi, dq, blocks, clip, st0)
        (50.3, 1600, 900, 0.6, 20 << 8, [160, 1, 15, 16, 17, 33, 64, 0, 200, 7], 0, None),
        (49.6, 2000, 1500, 2.8, (19 << 8) + 177, [97] * 15, 0, None),
        (50.0, 2100, 2100, -0.4, 20 << 8, [128] * 10, 0.01, None),
        (50.0, 0, 10, 0.0, 20 << 8, [100] * 6, 0, None),  # no voltage: cycles close at cmax
        (45.0, 1800, 50, 1.2, (22 << 8) + 5, [320] * 4, 0, None),
        (55.0, 1200, 800, -2.0, (18 << 8) + 255, [40] * 30, 0, {0: 12345, 14: 99999}),
        (50.0, 1500, 700, 0.3, 1 << 8, [60] * 8, 0, None),  # shortest delay
        (50.0, 1500, 700, 0.3, (61 << 8) + 200, [60] * 8, 0, None),  # longest delay
    ]
    for f, av, ai, phi, dq, sizes, clip, st0 in specs:
        codes = wave(rng, sum(sizes), f, av, ai, phi, clip=clip)
        ring = [2048] * (2 * RING)
        out.append(dict(st=fresh_state(dq, st0=st0), ring=ring, blocks=split(rng, codes, sizes)))
    return out


def emu_case(c, insns=None):
    code = thumb_emu.extract(KERN, "run")
    st = struct.pack("<%di" % ST_WORDS, *c["st"])
    ring = struct.pack("<%dh" % (2 * RING), *c["ring"])
    res = []
    for b in c["blocks"]:
        buf = struct.pack("<%dh" % len(b), *b) if b else b"\0\0\0\0"
        r = thumb_emu.run(code, [buf, len(b) // 2, st, ring], misalign=0)
        st, ring = r.bufs[1], r.bufs[2]
        if insns is not None:
            insns.append((len(b) // 2, r.insns))
        res.append(
            [
                r.r0,
                list(struct.unpack("<%di" % ST_WORDS, st))[:ST_SIZE],
                list(struct.unpack("<%dh" % (2 * RING), ring)),
            ]
        )
    return res


@pytest.fixture(scope="module")
def viper_results():
    cs = cases()
    return cs, run_mp(MP_RUN, cs)


def test_thumb_equals_viper(viper_results):
    cs, ref = viper_results
    for i, (c, want) in enumerate(zip(cs, ref)):
        got = emu_case(c)
        for j, (g, w) in enumerate(zip(got, want)):
            assert g == w, "case %d block %d" % (i, j)


def test_instructions_per_pair(capsys):
    rng = random.Random(5)
    codes = wave(rng, 4000, 50.0, 1600, 900, 0.6)
    c = dict(
        st=fresh_state(20 << 8), ring=[2048] * (2 * RING), blocks=split(rng, codes, [160] * 25)
    )
    counts = []
    emu_case(c, counts)
    per = sum(i for _, i in counts) / 4000
    with capsys.disabled():
        print(
            "\nadc_thumb.run on the emulated M4: %.1f instructions per pair (160-pair blocks)"
            % per
        )
    assert per < 60


MP_SELFTEST_RUNS = r"""
import json
from array import array
from metrology import adc_selftest
from metrology.adc_viper import run
calls = []
def rec(buf, n, st, ring):
    calls.append([list(buf), list(st), list(ring)])
    return run(buf, n, st, ring)
print(json.dumps([adc_selftest._run(rec), adc_selftest.run(), calls]))
"""


def test_selftest_checksum_on_emulated_thumb():
    """The self-test's checksum from the viper kernel is the stored tripwire, and the thumb
    kernel fed the same calls (recorded inputs) ends in the same state."""
    import runpy

    trip = runpy.run_path(str(ROOT / "firmware" / "lib" / "tripwires.py"))
    got, ok, calls = run_mp_files_json(MP_SELFTEST_RUNS)
    assert ok and got == trip["ADC_RUN"]
    code = thumb_emu.extract(KERN, "run")
    st = struct.pack("<%di" % ST_WORDS, *calls[0][1])
    ring = struct.pack("<%dh" % (2 * RING), *calls[0][2])
    for buf, _, _ in calls:
        b = struct.pack("<%dh" % len(buf), *buf) if buf else b"\0\0\0\0"
        r = thumb_emu.run(code, [b, len(buf) // 2, st, ring])
        st, ring = r.bufs[1], r.bufs[2]
    sts = struct.unpack("<%di" % ST_WORDS, st)
    rings = struct.unpack("<%dh" % (2 * RING), ring)
    c = 0
    for k in range(ST_SIZE):
        c = (c * 31 + (sts[k] & 0xFFFFFF)) & 0xFFFFFF
    for k in range(2 * RING):
        c = (c * 31 + rings[k]) & 0xFFFFFF
    assert c == trip["ADC_RUN"]


def run_mp_files_json(script):
    from test_thumb_kernels import run_mp_files

    return json.loads(run_mp_files(script))
