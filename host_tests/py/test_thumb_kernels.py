"""asm_thumb kernels executed on an emulated Cortex-M4 (tools/thumb_emu.py, unicorn) against their
viper references executed in a real Unix MicroPython process, bit for bit."""

import json
import random
import runpy
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
# the stored checksums (regression tripwires), shared with the on-board self-test
TRIPWIRES = runpy.run_path(str(ROOT / "firmware" / "lib" / "tripwires.py"))

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


def run_mp_files(script, *args, heap="16M", stdin=None, timeout=600):
    """Run `script` in Unix MicroPython with argv args; its stdout (asserting a clean exit)."""
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=" + heap, "-c", script, *map(str, args)],
        input=stdin,
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert p.returncode == 0, p.stderr + p.stdout
    return p.stdout


def run_mp(script, payload):
    """Run `script` with the JSON of payload on stdin; its stdout as JSON."""
    return json.loads(run_mp_files(script, stdin=json.dumps(payload), timeout=300))


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
    assert (chk, st[0], w) == TRIPWIRES["PHY_MIX"]


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
    expected = TRIPWIRES["PHY_ACS"]
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


# --- per-symbol loop: rx_thumb._sym (emulated) against rx_viper._sym (viper, micropython)
#
# One call of _sym(ring, S, hist, W) runs the receiver's per-symbol loop over the ring. The viper
# reference runs in Unix MicroPython, the asm_thumb one on the emulated Cortex-M4; both get the
# same input buffers and must give the same return value, S (every word), hist and W. Buffers
# travel as raw bytes: IN = ring | S | hist | W, OUT = ev (int32) | S | hist | W.
# W[0:60] is scratch inside one call (the 15 words before the taps, rx_viper.mf_buffer; nothing
# reads it after _sym returns): the thumb loop copies wrapped samples there, the viper one does
# not use it, so those 60 bytes are not compared (the receiver-call test prints in how many
# calls they differ); the rest of W (taps included) is.

RX_THUMB = ROOT / "firmware" / "lib" / "phy" / "rx_thumb.py"
_B = 1 << 28
W_SCRATCH = 60  # bytes: the 15 scratch words before the taps (rx_viper.mf_buffer)
TAPS_ABS = 11289  # largest sum of |taps| on one rail of a phase (phy.tables.MF_TAPS)
TAPS_RMS = 5792  # largest rms gain of one rail of a phase


MP_SYM_INFO = r"""
import json, binascii
from phy import rx_viper as v
from phy.tables import DSYNC
c = {}
for k in dir(v):
    if k[:2] in ('S_', 'W_') or k in ('NSYM', 'KNOWN_N', 'HDR_EV'):
        c[k] = getattr(v, k)
c['DSYNC'] = int(DSYNC)
c['W0'] = binascii.hexlify(v.work_buffer()).decode()
print(json.dumps(c))
"""

# IN records from argv[1] through rx_viper._sym, OUT records to argv[2]
MP_SYM_VIPER = r"""
import sys, struct
from array import array
from phy.rx_viper import _sym, S_NS, W_SIZE
ring = array('h', bytearray(4096))
S = array('i', bytearray(4 * S_NS))
hist = array('i', bytearray(1024))
W = bytearray(W_SIZE)
fi = open(sys.argv[1], 'rb')
fo = open(sys.argv[2], 'wb')
while fi.readinto(ring) == 4096:
    fi.readinto(S)
    fi.readinto(hist)
    fi.readinto(W)
    ev = _sym(ring, S, hist, W)
    fo.write(struct.pack('<i', ev))
    fo.write(S)
    fo.write(hist)
    fo.write(W)
fi.close()
fo.close()
"""

# a real receive with phy.rx._sym replaced by a recorder: IN + OUT of every call with ev != 0
# and of every argv[3]-th call, to argv[2]; chunk sizes vary (1 .. 1000 samples, LCG)
MP_SYM_RECORD = r"""
import sys
from array import array
from phy.rx import Receiver
from tools.sym_recorder import Recorder
rec = Recorder(sys.argv[2], int(sys.argv[3]))
f = open(sys.argv[1], 'rb'); a = array('H', f.read()); f.close()
r = Receiver(lambda b, n, x: None)
p = 0
s = 4321
while p < len(a):
    s = (s * 1103515245 + 12345) & 0x7FFFFFFF
    m = 1 + (s >> 8) % 1000
    v = memoryview(a)[p:p + m]
    r.feed(v, len(v))
    p += m
rec.close()
print(r.frames_ok, r.syncs, r.header_errors, r.crc_errors, rec.calls, rec.kept, r.sync_rejects)
"""


class SymLayout:
    """Sizes, names and byte offsets of the _sym buffers (from rx_viper in micropython)."""

    def __init__(self, info):
        self.c = info
        self.ns = info["S_NS"]
        self.w_size = info["W_SIZE"]
        self.w0 = bytes.fromhex(info["W0"])
        self.sb = 4 * self.ns
        self.in_size = 4096 + self.sb + 1024 + self.w_size
        self.out_size = 4 + self.sb + 1024 + self.w_size
        self.s_names = {v: k for k, v in info.items() if k.startswith("S_") and k != "S_NS"}

    def __getattr__(self, name):
        try:
            return self.c[name]
        except KeyError:
            raise AttributeError(name) from None

    def split_in(self, b):
        o1, o2 = 4096, 4096 + self.sb
        return b[:o1], b[o1:o2], b[o2 : o2 + 1024], b[o2 + 1024 :]

    def split_out(self, b):
        o = 4 + self.sb
        return struct.unpack("<i", b[:4])[0], b[4:o], b[o : o + 1024], b[o + 1024 :]

    def pack_in(self, ring, S, hist, W):
        return (
            struct.pack("<2048h", *ring)
            + struct.pack("<%di" % self.ns, *S)
            + struct.pack("<256i", *hist)
            + bytes(W)
        )

    def words(self, b):
        return struct.unpack("<%dI" % (len(b) // 4), b)

    def describe_in(self, inp):
        S = struct.unpack("<%di" % self.ns, self.split_in(inp)[1])
        c = self.c
        return (
            "state %d n0 %d (window at ring[%d]) wpos %d (~%d symbols) mu %d zsh %d lvl %d hold %d"
            % (
                S[c["S_STATE"]],
                S[c["S_N0"]],
                (S[c["S_N0"]] - 11) & 2047,
                S[c["S_WPOS"]],
                max(0, (S[c["S_WPOS"]] - S[c["S_N0"]] - 11) // 4 + 1),
                S[c["S_MU"]],
                S[c["S_ZSH"]],
                S[c["S_LVL"]],
                S[c["S_HOLD"]],
            )
        )

    def w_region(self, i):
        c = self.c
        for name, end in (
            ("matched-filter outputs/scratch", W_SCRATCH),
            ("taps", c["W_CS"]),
            ("coherent-check outputs", c["W_BLK"]),
            ("block sums", c["W_ZB"]),
            ("frame buffer", self.w_size),
        ):
            if i < end:
                return name
        return "?"

    def diff(self, got, ref):
        """None if the thumb OUT equals the viper OUT (W[0:60] aside), else what differs."""
        ge, gs, gh, gw = self.split_out(got)
        re_, rs, rh, rw = self.split_out(ref)
        msg = []
        if ge != re_:
            msg.append("return value: thumb %d, viper %d" % (ge, re_))
        for name, g, r in (("S", gs, rs), ("hist", gh, rh)):
            g, r = self.words(g), self.words(r)
            bad = [i for i in range(len(g)) if g[i] != r[i]]
            if bad:
                i = bad[0]
                what = self.s_names.get(i, "") if name == "S" else ("I" if i < 128 else "Q")
                msg.append(
                    "%s: %d words differ, first %s[%d] (%s): thumb %#010x, viper %#010x"
                    % (name, len(bad), name, i, what, g[i], r[i])
                )
        bad = [i for i in range(W_SCRATCH, len(gw)) if gw[i] != rw[i]]
        if bad:
            i = bad[0]
            msg.append(
                "W: %d bytes differ, first W[%d] (%s): thumb %#04x, viper %#04x"
                % (len(bad), i, self.w_region(i), gw[i], rw[i])
            )
        return "; ".join(msg) or None


@pytest.fixture(scope="module")
def sym_layout():
    return SymLayout(json.loads(run_mp_files(MP_SYM_INFO)))


def viper_sym(lay, inputs, tmp_path):
    """rx_viper._sym on each IN record, in one micropython process -> list of OUT records."""
    fi, fo = tmp_path / "sym_in.bin", tmp_path / "sym_out.bin"
    fi.write_bytes(b"".join(inputs))
    run_mp_files(MP_SYM_VIPER, fi, fo)
    data = fo.read_bytes()
    assert len(data) == lay.out_size * len(inputs)
    return [data[k * lay.out_size : (k + 1) * lay.out_size] for k in range(len(inputs))]


def emu_sym(lay, inp, cycles=False):
    """rx_thumb._sym on the emulated Cortex-M4 -> (OUT record, instructions [, cycles])."""
    code = thumb_emu.extract(RX_THUMB, "_sym")
    ring, S, hist, W = lay.split_in(inp)
    res = thumb_emu.run(code, [ring, S, hist, W], cycles=cycles)
    ring_o, S_o, hist_o, W_o = res.bufs
    assert ring_o == ring, "_sym wrote the ring"
    return struct.pack("<i", res.r0) + S_o + hist_o + W_o, res.insns


def compare_thumb(lay, inputs, refs, label):
    """Run every IN on the emulated thumb _sym; assert the OUT records equal the viper ones."""
    bad, scratch, insns = [], 0, 0
    for k, (inp, ref) in enumerate(zip(inputs, refs)):
        got, n = emu_sym(lay, inp)
        insns += n
        d = lay.diff(got, ref)
        if d:
            bad.append("%s %d (%s): %s" % (label, k, lay.describe_in(inp), d))
        if lay.split_out(got)[3][:W_SCRATCH] != lay.split_out(ref)[3][:W_SCRATCH]:
            scratch += 1
    assert not bad, "%d of %d %ss differ:\n" % (len(bad), len(inputs), label) + "\n".join(bad[:8])
    return insns, scratch


# --- random cases: states built like Receiver.reset() and varied; amplitudes are chosen so that
# every strobe stays below 8000 and the history below 5000 (and the coherent-check sums far below
# 2**31), where the 64-bit unix viper and a 32-bit port compute the same


def sym_case(lay, rng, state, nsym, pos=None, t=None, zsh=None, pattern=False, impulses=False):
    c = lay.c
    zsh = rng.randrange(15) if zsh is None else zsh
    if t is None:
        t = rng.choice((0, 2, 20, 120, 300, 600, 1200, 2400))  # strobe rms per rail, target
    amax = min(8000, (8000 << zsh) // TAPS_ABS)  # |strobe| <= 8000 whatever the samples
    a = min(amax, round(t * 1.732 * (1 << zsh) / TAPS_RMS))
    teff = a * TAPS_RMS / 1.732 / (1 << zsh)  # strobe rms per rail of this ring
    ring = [rng.randint(-a, a) for _ in range(2048)]
    if impulses:
        for _ in range(rng.randrange(1, 8)):
            ring[rng.randrange(2048)] = rng.choice((-amax, amax))
    h = int(min(5000, max(4, 2 * teff)))
    hist = [_B + rng.randint(-h, h) for _ in range(256)]
    S = [0] * lay.ns
    if pos is None:
        pos = rng.randrange(2048)
    n0 = pos + 11 + 2048 * rng.randrange(8000)
    S[c["S_N0"]] = n0
    S[c["S_WPOS"]] = n0 + 11 + 4 * (nsym - 1) + rng.randrange(4) if nsym else n0 + 10
    S[c["S_MU"]] = rng.randrange(65536)
    S[c["S_TINT"]] = _B + rng.randint(-26000, 26000)
    p = min(16383, int(2 * teff) + 1)
    S[c["S_PI"]] = _B + rng.randint(-p, p)
    S[c["S_PQ"]] = _B + rng.randint(-p, p)
    S[c["S_LVL"]] = rng.choice((0, 1, 390, 399, 400, 401, 420, 800, 1580, 1600, 1601, 1700, 3000))
    S[c["S_ZSH"]] = zsh
    S[c["S_STATE"]] = state
    if rng.random() < 0.3:  # one shift from the sync word's differential bits: check at once
        S[c["S_DREG"]] = (c["DSYNC"] >> 1) ^ (1 << rng.randrange(29))
    else:
        S[c["S_DREG"]] = rng.randrange(1 << 30)
    S[c["S_ZIDX"]] = rng.randrange(128)
    S[c["S_TH0"]] = _B + rng.randint(-99999, 99999)  # not used by _sym: must stay
    S[c["S_D0"]] = _B + rng.randint(-9999, 9999)
    S[c["S_AMP"]] = rng.randrange(32, 5000)
    S[c["S_SYNCS"]] = rng.randrange(1000)
    S[c["S_HOLD"]] = rng.choice((0, 0, 1, 3, 24))
    S[c["S_JH"]] = rng.choice((0, 0, 1, 16))
    e = int(teff * teff) // 16 + 1
    S[c["S_ES"]] = rng.randrange(e)
    S[c["S_EM"]] = rng.randrange(e)
    # peak search (kept in every state; the AGC also rescales it)
    big = int(min(4e8, 64 * (teff + 1) ** 2))
    S[c["S_BEST"]] = rng.choice((0, rng.randrange(big), big))
    S[c["S_SINCE"]] = rng.choice((0, rng.randrange(24), 22, 23, 24, 30))
    S[c["S_WIN"]] = rng.randrange(2)
    S[c["S_BESTE"]] = rng.choice((0, rng.randrange(int(min(5e7, 2 * (teff + 1) ** 2)))))
    for k in ("S_C1I", "S_C1Q", "S_C2I", "S_C2Q"):
        S[c[k]] = _B + rng.randint(-48 * h, 48 * h)
    # in frame
    room = c["NSYM"] - c["KNOWN_N"]
    cnt = rng.choice((0, rng.randrange(room - 1), room - 2, rng.randrange(80)))
    S[c["S_CNT"]] = cnt
    need = rng.choice((c["HDR_EV"], cnt + 1, cnt, cnt + rng.randrange(1, 400)))
    S[c["S_NEED"]] = min(need, room - 1) if need > cnt else need
    S[c["S_GZ"]] = rng.choice((65536, 2048, rng.randrange(1000, 65537)))
    S[c["S_BRE"]] = _B + rng.randint(-200000, 200000)
    S[c["S_BIM"]] = _B + rng.randint(-200000, 200000)
    if pattern:  # the known preamble tail + sync word as the last 47 strobes: the check passes
        pa = int(min(1500, max(50, 2 * teff)))
        z = S[c["S_ZIDX"]]
        for k in range(47):
            hk = (z - 47 + k) & 127
            sgn = -1 if KNOWN[k] else 1
            hist[hk] = _B + sgn * pa + rng.randint(-pa // 4, pa // 4)
            hist[128 + hk] = _B - sgn * pa // 2 + rng.randint(-pa // 4, pa // 4)
        S[c["S_DREG"]] = c["DSYNC"] >> 1
    W = bytearray(lay.w0)
    for lo, hi in ((0, W_SCRATCH), (c["W_CS"], lay.w_size)):  # garbage where _sym only writes
        W[lo:hi] = bytes(rng.randrange(256) for _ in range(hi - lo))
    return lay.pack_in(ring, S, hist, W)


KNOWN = [0, 1] * 8 + [0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0]
KNOWN += [1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1]


def sym_random_cases(lay):
    rng = random.Random(31)
    cases = []
    # every start of the 22-sample window near the ring's end (wrapping from 2027 on), few symbols
    for i, pos in enumerate(list(range(2016, 2048)) + [0, 1, 2, 3]):
        cases.append(sym_case(lay, rng, (0, 2, 1)[i % 3], rng.randrange(1, 6), pos=pos))
    for state in (0, 2, 1):
        for i in range(24):
            nsym = rng.choice((0, 1, 2, 5, 17, 24, 25, 40, 100, 300)) if i else 300
            cases.append(sym_case(lay, rng, state, nsym, impulses=(nsym <= 20 or state == 1)))
    for _ in range(8):  # sync pattern in the history: search -> peak search -> commit
        cases.append(sym_case(lay, rng, 0, rng.choice((1, 30, 80)), t=300, zsh=10, pattern=True))
    for zsh, t, lvl_state in ((0, 0, 0), (14, 2400, 0), (3, 300, 0), (12, 2400, 2)):
        cases.append(sym_case(lay, rng, lvl_state, 300, t=t, zsh=zsh))  # AGC at its ends
    return cases


def test_known_matches_tables():
    out = run_mp_files("from phy.tables import KNOWN; print(list(KNOWN))", timeout=60)
    assert json.loads(out) == KNOWN


@pytest.fixture(scope="module")
def sym_random(sym_layout, tmp_path_factory):
    cases = sym_random_cases(sym_layout)
    return cases, viper_sym(sym_layout, cases, tmp_path_factory.mktemp("symr"))


def test_sym_random_cases_cover(sym_layout, sym_random):
    """The random cases drive the viper loop through every branch worth checking."""
    lay, c = sym_layout, sym_layout.c
    seen = set()
    for inp, out in zip(*sym_random):
        s0 = struct.unpack("<%di" % lay.ns, lay.split_in(inp)[1])
        ev, s1, _, _ = lay.split_out(out)
        s1 = struct.unpack("<%di" % lay.ns, s1)
        seen.add("ev%d" % ev)
        seen.add("state %d->%d" % (s0[c["S_STATE"]], s1[c["S_STATE"]]))
        if s1[c["S_ZSH"]] != s0[c["S_ZSH"]]:
            seen.add("zsh up" if s1[c["S_ZSH"]] > s0[c["S_ZSH"]] else "zsh down")
        if s1[c["S_JH"]] == 16 or s1[c["S_JH"]] > s0[c["S_JH"]]:
            seen.add("timing jump")
        if (s0[c["S_N0"]] - 11) & 2047 > 2026:
            seen.add("window wraps")
    need = {"ev0", "ev1", "ev2", "state 0->2", "state 2->0", "state 0->0", "state 1->1"}
    need |= {"zsh up", "zsh down", "timing jump", "window wraps"}
    assert need <= seen, sorted(need - seen)


def test_sym_thumb_equals_viper_random(sym_layout, sym_random):
    cases, refs = sym_random
    compare_thumb(sym_layout, cases, refs, "case")


# --- calls recorded from real receives


def sym_streams():
    """ADC streams for the recorder: 2.5 dB (with a second of noise: false syncs), +-200 ppm,
    impulsive noise, 10 dB; short frames, deterministic."""
    import numpy as np

    from tools import channel, phy_mp

    rng = np.random.default_rng(23)
    parts = []
    for eb, kw, nfr, gap in (
        (2.5, {}, 3, 345600),
        (6.0, dict(ppm=200.0), 2, 20000),
        (6.0, dict(ppm=-200.0), 2, 20000),
        (6.0, dict(impulse_db=20.0), 2, 20000),
        (10.0, {}, 2, 20000),
    ):
        fr = [bytes(rng.integers(0, 256, 24, dtype=np.uint8)) for _ in range(nfr)]
        tx = phy_mp.tx_frames(fr, gap_samples=gap)
        parts.append(channel.channel(tx, ebn0_db=eb, seed=len(parts) + 40, **kw))
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def sym_recorded(sym_layout, tmp_path_factory):
    d = tmp_path_factory.mktemp("symrec")
    sym_streams().astype("<u2").tofile(d / "rx.u16")
    stats = list(map(int, run_mp_files(MP_SYM_RECORD, d / "rx.u16", d / "rec.bin", 1).split()))
    data = (d / "rec.bin").read_bytes()
    size = sym_layout.in_size + sym_layout.out_size
    assert len(data) == size * stats[5]
    recs = [data[k * size : (k + 1) * size] for k in range(stats[5])]
    return stats, [r[: sym_layout.in_size] for r in recs], [r[sym_layout.in_size :] for r in recs]


def test_sym_recorder_replays_on_viper(sym_layout, sym_recorded, tmp_path):
    """The recorded inputs alone reproduce the recorded outputs through rx_viper._sym: a record
    holds everything a call depends on. And the receive did what the replay has to cover."""
    stats, inputs, outputs = sym_recorded
    frames_ok, syncs, hdr_err, crc_err, calls, kept, rejects = stats
    assert kept == calls >= 200
    # peak-search commits on noise too: refused by _sync or failing the header
    assert frames_ok >= 9 and syncs + rejects > frames_ok
    evs = [sym_layout.split_out(o)[0] for o in outputs]
    assert evs.count(1) >= 2 * frames_ok and evs.count(2) == syncs + rejects
    assert viper_sym(sym_layout, inputs, tmp_path) == outputs


def test_sym_thumb_on_receiver_calls(sym_layout, sym_recorded, capsys):
    """Every _sym call of real receives (noise with false syncs at 2.5 dB, +-200 ppm, impulsive
    noise, 10 dB), recorded in micropython with the viper outputs, replayed on the thumb _sym."""
    stats, inputs, outputs = sym_recorded
    insns, scratch = compare_thumb(sym_layout, inputs, outputs, "call")
    samples = 0
    for inp, out in zip(inputs, outputs):
        s0 = struct.unpack("<%di" % sym_layout.ns, sym_layout.split_in(inp)[1])
        s1 = struct.unpack("<%di" % sym_layout.ns, sym_layout.split_out(out)[1])
        samples += s1[sym_layout.S_N0] - s0[sym_layout.S_N0]
    with capsys.disabled():
        print(
            "\n[thumb] sym: %d recorded calls equal, %.0f instructions per symbol on the stream"
            " (W[0:%d] scratch differs in %d calls, not compared)"
            % (len(inputs), 4 * insns / samples, W_SCRATCH, scratch)
        )


def test_sym_restores_r8_to_r12(sym_layout):
    """MicroPython requires an asm_thumb function to restore R8-R12 before it returns: from each
    state, with coherent checks, a commit (ev 2) and a frame event (ev 1) on the way."""
    lay = sym_layout
    rng = random.Random(41)
    for state, kw in ((0, dict(pattern=True, t=300, zsh=10)), (2, {}), (1, {})):
        inp = sym_case(lay, rng, state, 40, **kw)

        def setup(uc, A, inp=inp):
            addr = thumb_emu.RAM_BASE + 0x1000
            regs = (A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2, A.UC_ARM_REG_R3)
            for reg, b in zip(regs, lay.split_in(inp)):
                uc.mem_write(addr, b)
                uc.reg_write(reg, addr)
                addr += (len(b) + 127) & ~63

        assert _run_saving_high_regs(RX_THUMB, "_sym", setup) == [0, 1, 2, 3, 4], state


def _symbols(lay, inp, out):
    """Symbols one call processed: strobe advance / 4 samples (timing steps are << 1 sample)."""
    s0 = struct.unpack("<%di" % lay.ns, lay.split_in(inp)[1])
    s1 = struct.unpack("<%di" % lay.ns, lay.split_out(out)[1])
    adv = (s1[lay.S_N0] - s0[lay.S_N0]) + (s1[lay.S_MU] - s0[lay.S_MU]) / 65536
    return round(adv / 4)


def test_sym_instructions_per_symbol(sym_layout, capsys):
    """Emulated instructions (and cycles, thumb_emu's pessimistic M4 model) per symbol: search on
    noise at the receiver's working level (the coherent check on the symbols that pass the
    pre-filter), peak search (the check on every symbol) from a peak to its commit 24 strobes
    later, in frame."""
    lay, c = sym_layout, sym_layout.c
    rng = random.Random(43)
    cases = []
    kw = dict(t=400, zsh=10)  # lvl ~ 800 with zsh 10
    cases.append(("search on noise", sym_case(lay, rng, 0, 300, **kw), None))
    cases.append(("peak search", sym_case(lay, rng, 2, 60, **kw), 10**8))
    cases.append(("in frame", sym_case(lay, rng, 1, 300, **kw), None))
    figures = []
    for name, inp, best in cases:
        ring, S, hist, W = lay.split_in(inp)
        S = list(struct.unpack("<%di" % lay.ns, S))
        S[c["S_LVL"]], S[c["S_HOLD"]], S[c["S_JH"]], S[c["S_ZSH"]] = 800, 0, 0, 10
        if best is not None:
            S[c["S_BEST"]], S[c["S_SINCE"]], S[c["S_WIN"]], S[c["S_BESTE"]] = best, 0, 1, 0
        if S[c["S_STATE"]] == 1:
            S[c["S_CNT"]], S[c["S_NEED"]] = 0, 4000
        inp = ring + struct.pack("<%di" % lay.ns, *S) + hist + W
        out, (insns, cyc) = emu_sym(lay, inp, cycles=True)
        n = _symbols(lay, inp, out)
        ev = lay.split_out(out)[0]
        figures.append((name, insns / n, cyc / n, n, ev))
    with capsys.disabled():
        print()
        for name, per, cyc, n, ev in figures:
            print(
                "[thumb] sym %s: %.0f instructions (%.0f cycles) per symbol, %d symbols, ev %d"
                % (name, per, cyc, n, ev)
            )
    assert all(50 < f[1] < 5000 for f in figures)
    assert figures[1][4] == 2 and 23 <= figures[1][3] <= 25  # commit 24 strobes after the best


# --- the selftest vector: phy.selftest._sym_run's three calls, here in CPython


def sym_selftest(lay, call):
    """phy.selftest._sym_run with `call(IN) -> OUT` as the kernel: the same checksum."""
    c = lay.c
    ring, s = [], 999
    for _ in range(2048):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        ring.append(((s >> 16) & 4095) - 2048)
    S = [0] * lay.ns
    hist = [_B] * 256
    w = bytes(lay.w0)
    chk = 0
    S[c["S_N0"]] = 16
    for state, wpos in ((0, 1500), (2, 1900), (1, 4000)):
        for k in ("S_TINT", "S_PI", "S_PQ", "S_BRE", "S_BIM", "S_C1I", "S_C1Q", "S_C2I", "S_C2Q"):
            if state != 1 or c[k] < c["S_C1I"]:
                S[c[k]] = S[c[k]] or 1 << 28
        S[c["S_STATE"]] = state
        S[c["S_WPOS"]] = wpos
        S[c["S_LVL"]] = S[c["S_LVL"]] or 800
        S[c["S_ZSH"]] = S[c["S_ZSH"]] or 10
        S[c["S_GZ"]] = 3000
        S[c["S_NEED"]] = 300
        ev, s_b, h_b, w = lay.split_out(call(lay.pack_in(ring, S, hist, w)))
        S = list(struct.unpack("<%di" % lay.ns, s_b))
        hist = list(struct.unpack("<256i", h_b))
        chk = (chk * 31 + ev) & 0xFFFFFF
        for x in S + hist:
            chk = (chk * 31 + (x & 0xFFFFFFF)) & 0xFFFFFF
        for i in range(c["W_CS"], c["W_ZB"] + 800):
            chk = (chk * 31 + w[i]) & 0xFFFFFF
    return chk


def _expected_sym():
    return TRIPWIRES["PHY_SYM"]


def test_sym_selftest_harness_on_viper(sym_layout, tmp_path):
    """The CPython copy of _sym_run, each call run by rx_viper._sym, gives EXPECTED_SYM."""
    got = sym_selftest(sym_layout, lambda inp: viper_sym(sym_layout, [inp], tmp_path)[0])
    assert got == _expected_sym()


def test_sym_selftest_expected(sym_layout):
    """phy/selftest.py's _sym vector through the emulated thumb _sym gives its EXPECTED_SYM."""
    assert sym_selftest(sym_layout, lambda inp: emu_sym(sym_layout, inp)[0]) == _expected_sym()


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


def _module_consts(path):
    """NAME -> value of every module-level `NAME = const(expr)` in a MicroPython source."""
    import ast

    env = {}
    for node in ast.parse(Path(path).read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "const"
        ):
            expr = ast.unparse(node.value.args[0])
            env[node.targets[0].id] = eval(expr, {}, dict(env))  # const expressions only
    return env


MP_LAYOUT = r"""
import json
from phy import fec, rx_viper as v
c = {}
for k in dir(v):
    if k[:2] in ('S_', 'W_') or k[:3] == 'CS_':
        c[k] = getattr(v, k)
for k in ('PM_BANK', 'PM_BM', 'PM_WORDS', 'BM_BIAS', 'SURV_BYTES'):
    c[k] = getattr(fec, k)
print(json.dumps(c))
"""


def test_thumb_offsets_are_the_viper_layout():
    """rx_thumb / fec_thumb name their work-area offsets with consts (the inline assembler
    takes no imported names); each one must equal the viper modules' layout."""
    lay = json.loads(run_mp_files(MP_LAYOUT))
    rx = _module_consts(RX_THUMB)
    named = 0
    for k, val in rx.items():
        assert k.startswith("_"), k
        assert lay[k[1:]] == val, (k, val, lay[k[1:]])
        named += 1
    assert named >= 40
    # every S field the asm loop touches is named, none is a bare number
    src = RX_THUMB.read_text()
    assert "[r7, 4 * _S_WPOS]" in src
    import re

    assert not re.search(r"\[r7, \d+\]", src)
    assert not re.search(r"movw\(r\d+, (2620|2652|3724)\)", src)
    fe = _module_consts(FEC_THUMB)
    assert fe["_PM_HALF"] == 4 * lay["PM_BANK"] // 2
    assert fe["_PM_BM"] == 4 * lay["PM_BM"] == lay["BM_BIAS"]  # one register serves both
    assert fe["_SURV_STEP"] == lay["SURV_BYTES"]
    assert lay["PM_WORDS"] == lay["PM_BM"] + 4 == 2 * lay["PM_BANK"] + 4
