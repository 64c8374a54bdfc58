"""asm_thumb kernels executed on an emulated Cortex-M4 (tools/thumb_emu.py, unicorn) against their
viper references executed in a real Unix MicroPython process, bit for bit."""

import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools import thumb_emu  # noqa: E402
from tools.mpenv import micropython_exe, mp_env  # noqa: E402

KERN = ROOT / "firmware" / "lib" / "phy" / "kern_thumb.py"

MP_MIX = r"""
import sys, json
from array import array
from phy.kern_viper import mix
cases = json.loads(sys.stdin.read())
out = []
for c in cases:
    src = array('H', c['src'])
    ring = array('h', c['ring'])
    st = array('i', c['st'])
    v = memoryview(src)[c['view']:]
    w = mix(v, c['n'], ring, st)
    out.append([w, list(ring), list(st)])
print(json.dumps(out))
"""


def run_mp(script, payload):
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=16M", "-c", script],
        input=json.dumps(payload),
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr + p.stdout
    return json.loads(p.stdout)


def selftest_vector(n):
    v, s = [], 12345
    for _ in range(n):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        v.append(1500 + ((s >> 16) & 1023))
    return v


def mix_cases():
    rng = random.Random(7)
    cases = []
    # the selftest's own vector and state: ring 256, st = [2048 << 8, 5, 255, 3], n = 200
    cases.append(
        dict(src=selftest_vector(203), view=0, n=200, ring=[0] * 256, st=[2048 << 8, 5, 255, 3])
    )
    for n in (0, 1, 2, 3, 7, 64, 255, 480, 1001):
        size = 1 << rng.randrange(2, 10)
        size = max(size, 4)
        start = rng.randrange(0, 4) * 2 + 1  # odd sample offset into the source
        view = rng.randrange(0, 3)  # memoryview offset: buffer start not word aligned when odd
        total = view + start + n + rng.randrange(0, 5)
        src = [rng.randrange(0, 1 << 16) if rng.random() < 0.2 else rng.randrange(0, 4096)]
        src += [rng.randrange(0, 4096) for _ in range(total - 1)]
        cases.append(
            dict(
                src=src,
                view=view,
                n=n,
                ring=[rng.randrange(-32768, 32768) for _ in range(size)],
                # dc >= 0: it tracks the mean of unsigned ADC codes << 8. (A negative st[0] would
                # differ on 64-bit hosts only: viper's ptr32 load zero-extends it there.)
                st=[rng.randrange(0, 1 << 24), rng.randrange(0, 1 << 30), size - 1, start],
            )
        )
    return cases


def emu_mix(c):
    code = thumb_emu.extract(KERN, "mix")
    src = struct.pack("<%dH" % len(c["src"]), *c["src"])[2 * c["view"] :]
    ring = struct.pack("<%dh" % len(c["ring"]), *c["ring"])
    st = struct.pack("<4i", *c["st"])
    res = thumb_emu.run(code, [src, c["n"], ring, st], misalign=2 * (c["view"] & 1))
    out_src, out_ring, out_st = res.bufs
    assert out_src == src  # the kernel must not write its input
    ring_v = list(struct.unpack("<%dh" % len(c["ring"]), out_ring))
    return [res.r0, ring_v, list(struct.unpack("<4i", out_st))], res.insns


@pytest.fixture(scope="module")
def mix_ref():
    cases = mix_cases()
    return cases, run_mp(MP_MIX, cases)


def test_mix_extracted_is_asm():
    code = thumb_emu.extract(KERN, "mix")
    lines = thumb_emu.disasm(code)
    assert len(lines) == len(code) // 2  # all 16-bit instructions, all decoded
    assert "push" in lines[0] and "pop" in lines[-1] and "pc" in lines[-1]


def test_mix_thumb_equals_viper(mix_ref):
    cases, ref = mix_ref
    for i, (c, r) in enumerate(zip(cases, ref)):
        got, _ = emu_mix(c)
        assert got == r, "case %d (n=%d start=%d view=%d)" % (i, c["n"], c["st"][3], c["view"])


def test_mix_selftest_expected():
    c = mix_cases()[0]
    (w, ring, st), _ = emu_mix(c)
    chk = 0
    for x in ring:
        chk = (chk * 31 + (x & 0xFFFF)) & 0xFFFFFF
    expected = (8554772, 524337, 205)  # phy/selftest.py EXPECTED
    assert (chk, st[0], w) == expected


def mix_insns(n, ring_size=256):
    c = dict(
        src=selftest_vector(n + 3), view=0, n=n, ring=[0] * ring_size, st=[0, 0, ring_size - 1, 3]
    )
    return emu_mix(c)[1]


def test_mix_instructions_per_sample(capsys):
    a, b = mix_insns(1000), mix_insns(3000)
    per = (b - a) / 2000
    with capsys.disabled():
        print(
            "\n[thumb] mix: %.2f instructions/sample, %d fixed (emulated Cortex-M4)"
            % (per, a - 1000 * per)
        )
    # (w + 1) & 2 alternates in pairs: the neg runs on exactly half of the samples
    assert per == 18.5


# --- Viterbi add-compare-select: fec_thumb._acs (emulated) against fec._acs (viper, micropython)

FEC_THUMB = ROOT / "firmware" / "lib" / "phy" / "fec_thumb.py"

MP_ACS = r"""
import sys, json
from array import array
from phy.fec import _acs
cases = json.loads(sys.stdin.read())
out = []
for c in cases:
    pm = array('i', c['pm'])
    soft = bytearray(c['soft'])
    surv = bytearray(c['surv'])
    _acs(pm, soft, c['n'], surv)
    out.append([list(pm), list(surv)])
print(json.dumps(out))
"""


def acs_case(rng, nsteps, fresh=True, extra=3):
    if fresh:  # as Viterbi.decode starts a block
        pm = [(1 << 24) - 100000] * 64
        pm[0] = 1 << 24
    else:
        pm = [(1 << 24) + rng.randrange(-200000, 200000) for _ in range(64)]
    pm += [rng.randrange(0, 1 << 24) for _ in range(68)]
    soft = [rng.randrange(0, 256) for _ in range(2 * nsteps + 2 * extra)]
    surv = [rng.randrange(0, 256) for _ in range(8 * (nsteps + extra))]
    return dict(pm=pm, soft=soft, surv=surv, n=nsteps)


def emu_acs(c):
    code = thumb_emu.extract(FEC_THUMB, "_acs")
    pm = struct.pack("<132i", *c["pm"])
    res = thumb_emu.run(code, [pm, bytes(c["soft"]), c["n"], bytes(c["surv"])])
    pm_out, soft_out, surv_out = res.bufs
    assert soft_out == bytes(c["soft"])
    return [list(struct.unpack("<132i", pm_out)), list(surv_out)], res.insns


def acs_cases():
    rng = random.Random(3)
    cases = [acs_case(rng, n) for n in (0, 1, 2, 7, 128 * 8 + 6, 255 * 8 + 6)]
    cases += [acs_case(rng, n, fresh=False) for n in (1, 33, 500)]
    # strong soft values only (+-127 / -128): largest branch metrics, many ties
    c = acs_case(rng, 300)
    c["soft"] = [rng.choice((0x7F, 0x80, 0x81, 0, 1)) for _ in c["soft"]]
    cases.append(c)
    return cases


def test_acs_thumb_equals_viper():
    cases = acs_cases()
    ref = run_mp(MP_ACS, cases)
    for i, (c, r) in enumerate(zip(cases, ref)):
        got, _ = emu_acs(c)
        assert got[1] == r[1], "case %d (n=%d): survivor bits differ" % (i, c["n"])
        assert got[0] == r[0], "case %d (n=%d): path metrics differ" % (i, c["n"])


def test_acs_instructions_per_step(capsys):
    rng = random.Random(5)
    a = emu_acs(acs_case(rng, 1000))[1]
    b = emu_acs(acs_case(rng, 2000))[1]
    per = (b - a) / 1000
    frame = emu_acs(acs_case(rng, 128 * 8 + 6))[1]
    with capsys.disabled():
        print(
            "\n[thumb] acs: %.2f instructions/step (%.2f per butterfly), %d per 128-byte frame"
            % (per, per / 32, frame)
        )
    assert per < 700


def test_acs_selftest_expected():
    """phy/selftest.py's ACS vector through the emulated thumb ACS gives its EXPECTED_ACS."""
    import re

    text = (ROOT / "firmware" / "lib" / "phy" / "selftest.py").read_text()
    expected = tuple(int(x) for x in re.search(r"EXPECTED_ACS = \((\d+), (\d+)\)", text).groups())
    n = 70
    pm = [(1 << 24) - 100000] * 64 + [0] * 68
    pm[0] = 1 << 24
    soft, s = [], 777
    for _ in range(2 * n):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        soft.append((s >> 16) & 255)
    (pm_out, surv), _ = emu_acs(dict(pm=pm, soft=soft, surv=[0] * (8 * n), n=n))
    c = 0
    for b in surv:
        c = (c * 31 + b) & 0xFFFFFF
    d = 0
    for x in pm_out:
        d = (d * 31 + (x & 0xFFFFFFF)) & 0xFFFFFF
    assert (c, d) == expected


# --- coherent sync check: rx_thumb._coh (emulated) against rx_viper._coh (viper, micropython)

RX_THUMB = ROOT / "firmware" / "lib" / "phy" / "rx_thumb.py"
_B = 1 << 28

MP_COH = r"""
import sys, json
from array import array
from phy.rx_viper import _coh
cases = json.loads(sys.stdin.read())
out = []
for c in cases:
    hist = array('i', c['hist'])
    o = array('i', c['out'])
    _coh(hist, c['zidx'], o)
    out.append([list(hist), list(o)])
print(json.dumps(out))
"""


def coh_cases():
    rng = random.Random(11)
    cases = []
    # amplitudes: quiet, the receiver's working range (AGC keeps |I| + |Q| ~ 400..1600), and the
    # largest for which the 64-bit unix viper and a 32-bit port agree (|C|^2 / 64 < 2**31)
    for amp in (0, 1, 7, 300, 1600, 4000, 5400):
        for zidx in (0, 1, 47, 48, 49, 80, 81, 100, 127):  # every wrap position of the 48
            hist = [_B + rng.randrange(-amp, amp + 1) for _ in range(256)]
            cases.append(dict(hist=hist, zidx=zidx, out=[rng.randrange(-99, 99)] * 8))
    # a clean preamble tail + sync word (signs of tables.KNOWN) at +-5400 and at -5400
    known = MP_KNOWN
    for a, zidx in ((5400, 48), (-5400, 5), (1234, 127)):
        hist = [_B] * 256
        for k in range(48):
            hk = (zidx - 48 + k) & 127
            hist[hk] = _B + (-a if known[k] else a)
            hist[128 + hk] = _B + (a // 3 if known[k] else -a // 3)
        cases.append(dict(hist=hist, zidx=zidx, out=[0] * 8))
    return cases


MP_KNOWN = [0, 1] * 8 + [0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0]
MP_KNOWN += [1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1]


def emu_coh(c):
    code = thumb_emu.extract(RX_THUMB, "_coh")
    hist = struct.pack("<256i", *c["hist"])
    res = thumb_emu.run(code, [hist, c["zidx"], struct.pack("<8i", *c["out"])])
    hist_out, out = res.bufs
    assert hist_out == hist  # the check must not write the history
    return list(struct.unpack("<8i", out)), res.insns


def test_coh_known_matches_tables():
    p = subprocess.run(
        [micropython_exe(), "-c", "from phy.tables import KNOWN; print(list(KNOWN))"],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(p.stdout) == MP_KNOWN


def test_coh_thumb_equals_viper():
    cases = coh_cases()
    ref = run_mp(MP_COH, cases)
    for i, (c, r) in enumerate(zip(cases, ref)):
        got, _ = emu_coh(c)
        assert r[0] == c["hist"]
        assert got == r[1], "case %d (zidx=%d)" % (i, c["zidx"])


def _wrap(x):
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >> 31 else x


def coh_model32(hist, zidx):
    """rx_viper._coh with 32-bit machine ints (as viper runs on the board): every sum wraps."""
    s = [[0, 0, 0] for _ in range(3)]  # per segment: I, Q, energy
    hk = (zidx - 48) & 127
    for k in range(48):
        vi, vq = _wrap(hist[hk] - _B), _wrap(hist[128 + hk] - _B)
        e = _wrap(vi * vi + vq * vq) >> 6
        if MP_KNOWN[k]:
            vi, vq = -vi, -vq
        seg = s[0 if k < 16 else 1 if k < 24 else 2]
        seg[0] += vi
        seg[1] += vq
        seg[2] += e
        hk = (hk + 1) & 127
    c1i, c1q = s[0][0] + s[1][0], s[0][1] + s[1][1]
    c2i, c2q = s[2][0], s[2][1]
    csi, csq = _wrap(s[1][0] + c2i) >> 3, _wrap(s[1][1] + c2q) >> 3
    ens = s[1][2] + s[2][2]
    cti, ctq = _wrap(c1i + c2i) >> 3, _wrap(c1q + c2q) >> 3
    out = [c1i + _B, c1q + _B, c2i + _B, c2q + _B, s[0][2] + ens, cti * cti + ctq * ctq]
    return [_wrap(x) for x in out + [csi * csi + csq * csq, ens]]


def test_coh_thumb_wraps_like_32bit_viper():
    """Beyond the range where 64-bit viper agrees (|v| up to 2**27): same as 32-bit wrap-around."""
    rng = random.Random(12)
    for amp in (32767, 1 << 20, (1 << 27) - 1):
        for zidx in (0, 50, 127):
            hist = [_B + rng.randrange(-amp, amp + 1) for _ in range(256)]
            got, _ = emu_coh(dict(hist=hist, zidx=zidx, out=[0] * 8))
            assert got == coh_model32(hist, zidx)


def test_coh_instructions_per_call(capsys):
    counts = set()
    for zidx in (48, 0, 100):  # no wrap, wrap at the end, wrap inside
        counts.add(emu_coh(dict(hist=[_B] * 256, zidx=zidx, out=[0] * 8))[1])
    with capsys.disabled():
        print("\n[thumb] coh: %s instructions per call (emulated Cortex-M4)" % sorted(counts))
    assert max(counts) < 1300


def test_coh_selftest_expected():
    """phy/selftest.py's _coh vector through the emulated thumb _coh gives its EXPECTED_COH."""
    import re

    text = (ROOT / "firmware" / "lib" / "phy" / "selftest.py").read_text()
    expected = int(re.search(r"EXPECTED_COH = (\d+)", text).group(1))
    hist, s = [], 4242
    for _ in range(256):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        hist.append(_B + ((s >> 16) & 4095) - 2048)
    c = 0
    for zidx in (100, 48, 0):
        out, _ = emu_coh(dict(hist=hist, zidx=zidx, out=[0] * 8))
        assert out == coh_model32(hist, zidx)
        for x in out:
            c = (c * 31 + (x & 0xFFFFFFF)) & 0xFFFFFF
    assert c == expected


MP_COH_RECORD = r"""
import sys, json
from array import array
import phy.rx as rx
from phy.rx import Receiver
calls = []
coh = rx._coh
def rec(hist, zidx, out):  # viper passes the buffers as raw addresses: r.hist and r.cs
    coh(hist, zidx, out)
    if len(calls) < 400 and (len(calls) < 200 or zidx & 1):
        calls.append([list(r.hist), zidx, list(r.cs)])
rx._coh = rec
f = open(sys.argv[1], 'rb'); a = array('H', f.read()); f.close()
r = Receiver(lambda b, n, x: None)
for p in range(0, len(a), 480):
    v = memoryview(a)[p:p + 480]
    r.feed(v, len(v))
print(json.dumps([r.frames_ok, calls]))
"""


def test_coh_thumb_on_receiver_calls(tmp_path):
    """The calls the receiver makes on a real stream (noise, preamble, sync search at 3 and 8 dB),
    recorded in micropython with their viper outputs, replayed on the emulated thumb _coh."""
    import numpy as np

    from tools import channel, phy_mp

    rng = np.random.default_rng(21)
    parts = []
    for eb, seed in ((3.0, 1), (8.0, 2)):
        fr = [bytes(rng.integers(0, 256, 40, dtype=np.uint8)) for _ in range(2)]
        parts.append(
            channel.channel(phy_mp.tx_frames(fr, gap_samples=8000), ebn0_db=eb, seed=seed)
        )
    path = tmp_path / "rx.u16"
    np.concatenate(parts).astype("<u2").tofile(path)
    script = tmp_path / "rec.py"
    script.write_text(MP_COH_RECORD)
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=64M", str(script), str(path)],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr + p.stdout
    frames_ok, calls = json.loads(p.stdout)
    assert frames_ok >= 2 and len(calls) >= 100
    for i, (hist, zidx, ref) in enumerate(calls):
        got, _ = emu_coh(dict(hist=hist, zidx=zidx, out=[0] * 8))
        assert got == ref, "call %d (zidx=%d)" % (i, zidx)


def _run_saving_high_regs(module, name, setup):
    """Run an asm_thumb kernel with marked R8-R12; return their values on return."""
    from unicorn import UC_ARCH_ARM, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
    from unicorn import arm_const as A

    code = thumb_emu.extract(module, name)
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.mem_map(thumb_emu.CODE_BASE, 0x10_0000)
    uc.mem_map(thumb_emu.RAM_BASE, thumb_emu.RAM_SIZE)
    uc.mem_write(thumb_emu.CODE_BASE, code)
    setup(uc, A)
    high = (A.UC_ARM_REG_R8, A.UC_ARM_REG_R9, A.UC_ARM_REG_R10, A.UC_ARM_REG_R11, A.UC_ARM_REG_R12)
    for i, r in enumerate(high):
        uc.reg_write(r, 0x5A5A0000 + i)
    uc.reg_write(A.UC_ARM_REG_SP, thumb_emu.STACK_TOP)
    uc.reg_write(A.UC_ARM_REG_LR, thumb_emu.STOP | 1)
    uc.emu_start(thumb_emu.CODE_BASE | 1, thumb_emu.STOP, count=2_000_000)
    assert uc.reg_read(A.UC_ARM_REG_PC) == thumb_emu.STOP
    return [uc.reg_read(r) - 0x5A5A0000 for r in high]


def test_coh_restores_r8_to_r12():
    """MicroPython requires an asm_thumb function to restore R8-R12 before it returns."""

    def setup(uc, A):
        hist, out = thumb_emu.RAM_BASE + 0x1000, thumb_emu.RAM_BASE + 0x2000
        uc.mem_write(hist, struct.pack("<256i", *([_B + 5] * 256)))
        uc.reg_write(A.UC_ARM_REG_R0, hist)
        uc.reg_write(A.UC_ARM_REG_R1, 100)
        uc.reg_write(A.UC_ARM_REG_R2, out)

    assert _run_saving_high_regs(RX_THUMB, "_coh", setup) == [0, 1, 2, 3, 4]


def test_acs_restores_r8_to_r12():
    def setup(uc, A):
        pm, soft, surv = (thumb_emu.RAM_BASE + o for o in (0x1000, 0x2000, 0x3000))
        uc.mem_write(pm, struct.pack("<132i", *([1 << 24] * 132)))
        uc.mem_write(soft, bytes(range(40)))
        uc.reg_write(A.UC_ARM_REG_R0, pm)
        uc.reg_write(A.UC_ARM_REG_R1, soft)
        uc.reg_write(A.UC_ARM_REG_R2, 20)
        uc.reg_write(A.UC_ARM_REG_R3, surv)

    assert _run_saving_high_regs(FEC_THUMB, "_acs", setup) == [0, 1, 2, 3, 4]


# --- matched filter: rx_thumb._mf (emulated) against rx_viper._mf (viper, micropython)

MP_MF = r"""
import sys, json
from array import array
from phy.rx_viper import _mf, mf_buffer
cases = json.loads(sys.stdin.read())
out = [list(mf_buffer())]
for c in cases:
    ring = array('h', c['ring'])
    mf = mf_buffer()
    _mf(ring, c['n0'], c['mu'], mf)
    out.append([list(ring), list(mf[:4]), list(mf[15:])])
print(json.dumps(out))
"""


def mf_cases():
    rng = random.Random(13)
    cases = []
    # every wrap position of the 22 samples (n0 - 11 = 2027 .. 2047 mod 2048), no wrap around
    # them, and large n0 (absolute counter); random phases, amplitudes up to full int16 scale
    starts = list(range(2020, 2048)) + [0, 1, 5, 1000, 2026]
    for i, st in enumerate(starts):
        for amp in (3, 2048, 32768):
            n0 = st + 11 + 2048 * rng.randrange(0, 8192)
            ring = [max(-32768, min(32767, rng.randrange(-amp, amp + 1))) for _ in range(2048)]
            mu = rng.randrange(0, 65536) if i % 3 else (i * 2048 + rng.randrange(0, 2048)) % 65536
            cases.append(dict(ring=ring, n0=n0, mu=mu))
    for mu in range(0, 65536, 2048):  # every phase, extreme samples
        ring = [rng.choice((-32768, 32767, -1, 0, 1)) for _ in range(2048)]
        cases.append(dict(ring=ring, n0=rng.randrange(0, 1 << 24), mu=mu + rng.randrange(2048)))
    return cases


def emu_mf(c, mfbuf):
    code = thumb_emu.extract(RX_THUMB, "_mf")
    ring = struct.pack("<2048h", *c["ring"])
    mf = struct.pack("<%di" % len(mfbuf), *mfbuf)
    res = thumb_emu.run(code, [ring, c["n0"], c["mu"], mf])
    ring_out, mf_out = res.bufs
    assert ring_out == ring  # the filter must not write the ring
    got = list(struct.unpack("<%di" % len(mfbuf), mf_out))
    assert got[15:] == mfbuf[15:]  # nor the taps
    return got[:4], res.insns


@pytest.fixture(scope="module")
def mf_ref():
    cases = mf_cases()
    ref = run_mp(MP_MF, cases)
    return cases, ref[0], ref[1:]


def test_mf_thumb_equals_viper(mf_ref):
    cases, mfbuf, ref = mf_ref
    assert len(mfbuf) == 15 + 640
    for i, (c, r) in enumerate(zip(cases, ref)):
        assert r[0] == c["ring"] and r[2] == mfbuf[15:]
        got, _ = emu_mf(c, mfbuf)
        assert got == r[1], "case %d (n0=%d mu=%d)" % (i, c["n0"], c["mu"])


def test_mf_instructions_per_call(mf_ref, capsys):
    _, mfbuf, _ = mf_ref
    counts = {}
    for st in (100, 2026, 2027, 2040, 2047):  # no wrap, last without wrap, wrapping
        c = dict(ring=[7] * 2048, n0=st + 11, mu=30000)
        counts[st] = emu_mf(c, mfbuf)[1]
    with capsys.disabled():
        print("\n[thumb] mf: %s instructions per call by n0 - 11 (emulated Cortex-M4)" % counts)
    assert counts[100] == counts[2026] < 250
    assert max(counts.values()) < 460


def test_mf_restores_r8_to_r12(mf_ref):
    _, mfbuf, _ = mf_ref

    def setup(uc, A):
        ring, mf = thumb_emu.RAM_BASE + 0x1000, thumb_emu.RAM_BASE + 0x3000
        uc.mem_write(ring, struct.pack("<2048h", *range(-1024, 1024)))
        uc.mem_write(mf, struct.pack("<%di" % len(mfbuf), *mfbuf))
        uc.reg_write(A.UC_ARM_REG_R0, ring)
        uc.reg_write(A.UC_ARM_REG_R1, 2045)
        uc.reg_write(A.UC_ARM_REG_R2, 40000)
        uc.reg_write(A.UC_ARM_REG_R3, mf)

    assert _run_saving_high_regs(RX_THUMB, "_mf", setup) == [0, 1, 2, 3, 4]


def test_mf_selftest_expected(mf_ref):
    """phy/selftest.py's _mf vector through the emulated thumb _mf gives its EXPECTED_MF."""
    import re

    _, mfbuf, _ = mf_ref
    text = (ROOT / "firmware" / "lib" / "phy" / "selftest.py").read_text()
    expected = int(re.search(r"EXPECTED_MF = (\d+)", text).group(1))
    ring, s = [], 999
    for _ in range(2048):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        ring.append(((s >> 12) & 0xFFFF) - 32768)
    c = 0
    for n0, mu in ((2048 + 2040, 123), (2037, 40000), (11, 65535), (700, 20000)):
        out, _ = emu_mf(dict(ring=ring, n0=n0, mu=mu), mfbuf)
        for x in out:
            c = (c * 31 + (x & 0xFFFFFFF)) & 0xFFFFFF
    assert c == expected


MP_MF_RECORD = r"""
import sys, json
from array import array
import phy.rx as rx
from phy.rx import Receiver
calls = []
mf = rx._mf
def rec(ring, n0, mu, buf):  # viper passes the buffers as raw addresses: r.ring and r.mfb
    mf(ring, n0, mu, buf)
    if len(calls) < 300 and (len(calls) < 100 or ((n0 - 11) & 2047) > 2026):
        calls.append([list(r.ring), n0, mu, list(r.mfb[:4])])
rx._mf = rec
f = open(sys.argv[1], 'rb'); a = array('H', f.read()); f.close()
r = Receiver(lambda b, n, x: None)
for p in range(0, len(a), 480):
    v = memoryview(a)[p:p + 480]
    r.feed(v, len(v))
print(json.dumps([r.frames_ok, calls]))
"""


def test_mf_thumb_on_receiver_calls(tmp_path, mf_ref):
    """Calls the receiver makes on a real stream (noise, frames at 8 dB), recorded in micropython
    with their viper outputs, replayed on the emulated thumb _mf (wrapping calls included)."""
    import numpy as np

    from tools import channel, phy_mp

    _, mfbuf, _ = mf_ref
    rng = np.random.default_rng(22)
    fr = [bytes(rng.integers(0, 256, 40, dtype=np.uint8)) for _ in range(2)]
    x = channel.channel(phy_mp.tx_frames(fr, gap_samples=8000), ebn0_db=8.0, seed=4)
    path = tmp_path / "rx.u16"
    x.astype("<u2").tofile(path)
    script = tmp_path / "rec.py"
    script.write_text(MP_MF_RECORD)
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=256M", str(script), str(path)],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr + p.stdout
    frames_ok, calls = json.loads(p.stdout)
    assert frames_ok == 2 and len(calls) >= 110
    assert sum(1 for c in calls if ((c[1] - 11) & 2047) > 2026) >= 10
    for i, (ring, n0, mu, ref) in enumerate(calls):
        got, _ = emu_mf(dict(ring=ring, n0=n0, mu=mu), mfbuf)
        assert got == ref, "call %d (n0=%d mu=%d)" % (i, n0, mu)
