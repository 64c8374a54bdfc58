"""Seeded fuzz: 10,000 mutated authenticated frames into smitp.security in one MicroPython
process (sec_worker.py, a SimFlash store). Every outcome must be the one the independent model
(smitp_sec_ref.MeterModel, `cryptography`) predicts; every NACK-auth, CHALLENGE.RESP and
answer must verify; a refused frame must leave LMON and every flash byte unchanged. Valid
requests are interleaved so LMON moves and the duplicate cache is exercised.

SEC_FUZZ (default 10000) sets the number of mutated frames; the seed is fixed.
"""

import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smitp_sec_ref as ref  # noqa: E402

from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

N = int(os.environ.get("SEC_FUZZ", "10000"))
SEED = 20261130
ACA, KW, KR, WORKER = ref.ACA, ref.KW, ref.KR, ref.WORKER
AUTH_ATTRS = (102, 104, 106, 108, 110, 114, 116, 118, 122, 130, 140, 142)


def valid(rng, mon):
    ecc = rng.choice((1, 1, 5, 5, 2, 6))
    data = b"" if ecc & 3 == 2 else rng.randbytes(rng.choice((0, 2, 3, 8, 20, 60, 111)))
    dt = rng.randbytes(8)
    return ref.seal(ecc, rng.choice(AUTH_ATTRS), ACA, mon, data, dt, KW, KR), ecc


def mutate(rng, lsdu, ecc, model, history):
    b = bytearray(lsdu)
    k = rng.randrange(11)
    if k == 0:
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif k == 1:
        b = b[: rng.randrange(len(b))]
    elif k == 2:
        b += rng.randbytes(rng.randint(1, 20))
    elif k == 3:
        ecc = rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 9, 15))
    elif k == 4:
        b[0] = rng.randrange(256)
    elif k == 5 and history:
        b, ecc = rng.choice(history)
    elif k == 6:
        data = rng.randbytes(rng.randint(0, 30))
        mon = model.lmon + rng.choice((0, 2, 3, 100))
        b = ref.seal(ecc | 1 if ecc & 3 == 2 else ecc, 102, ACA, mon, data, bytes(8), KW, KR)
    elif k == 7:
        key = rng.randbytes(16)
        b = ref.seal(1, 102, ACA, model.lmon + 1, b"\x00\x3f", bytes(8), key, key)
        ecc = 1
    elif k == 8:  # sealed under one key, labelled with the other
        b = ref.seal(5, 104, ACA, model.lmon + 1, b"\x00\x10", bytes(8), KW, KR)
        ecc = 1
    elif k == 9:
        b = rng.randbytes(rng.randint(0, 140))
    elif model.last is not None:
        b, ecc = model.last
    return bytes(b), ecc


def test_fuzz_mutated_authenticated_frames(tmp_path):
    rng = random.Random(SEED)
    model = ref.MeterModel(ACA, KW, KR)
    frames = []  # (lsdu, ecc, expected outcome, detail, model LMON before)
    history = []  # accepted requests, for replays

    def add(lsdu, ecc):
        want, detail = model.expect(lsdu, ecc)
        frames.append((lsdu, ecc, want, detail, model.lmon))
        if want == "accept":
            model.accepted(lsdu, ecc)
            history.append((lsdu, ecc))

    mutated = 0
    while mutated < N:
        base, ecc = valid(rng, model.lmon + 1)
        for _ in range(19):
            add(*mutate(rng, base, ecc, model, history))
            mutated += 1
        add(base, ecc)  # valid: accepted
        if rng.random() < 0.5:
            add(base, ecc)  # byte-identical repeat: the cached answer
    text = "".join("%d %s\n" % (f[1], f[0].hex() or "-") for f in frames)
    p = subprocess.run(
        [micropython_exe(), WORKER, str(tmp_path / "flash.bin"), "32"],
        input=text.encode(),
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    lines = iter(p.stdout.decode().split("\n"))
    assert next(lines) == "lmon 0"
    state = None
    answer = None
    counts = {}
    for idx, (lsdu, ecc, want, detail, lmon) in enumerate(frames):
        got = next(lines).split()
        ctx = (idx, want, detail, got, lsdu.hex(), ecc)
        name = want + ("" if detail is None else ":" + detail)
        counts[name] = counts.get(name, 0) + 1
        if want == "accept":
            assert got == ["accepted", str(lmon + 1)], ctx
            ans = next(lines).split()
            assert ans[0] == "answer", ctx
            e_out, a = int(ans[1]), bytes.fromhex(ans[2])
            attr, data, _ = ref.open_sealed(e_out, ACA, lmon + 1, a, KW, KR, answer=True)
            req_data = ref.open_sealed(ecc, ACA, lmon + 1, lsdu, KW, KR)[1]
            assert (attr, data) == ((lsdu[0] + 1) & 0xFF, req_data), ctx
            assert e_out == (ecc if ecc & 3 == 1 or not data else (ecc & 4) | 1), ctx
            answer = (e_out, a)
        elif want == "dup":
            assert got[:2] == ["sent", "dup"], ctx
            assert (int(got[2]), bytes.fromhex(got[3])) == answer, ctx
        elif want == "nack":
            assert got[:3] == ["sent", detail, "2"], ctx
            par1, lm = ref.open_nack_auth(ACA, lsdu, bytes.fromhex(got[3]), KR)
            assert (par1, lm) == (10, lmon), ctx
        elif want == "challenge":
            assert got[:3] == ["sent", "challenge", "2"], ctx
            t, lm = ref.open_challenge_response(ACA, lsdu, bytes.fromhex(got[3]), KR)
            assert (t, lm) == (lsdu[1:3], lmon), ctx
        else:
            assert got == [want] + ([detail] if detail else []), ctx
        st = next(lines).split()
        now = (int(st[1]), int(st[2]))
        if want != "accept" and state is not None:
            assert now == state, ("state changed", ctx)
        assert now[0] == (lmon + 1 if want == "accept" else lmon), ctx
        state = now
    print(sorted(counts.items()))
    assert counts["accept"] >= N // 19 and counts["dup"] > N // 100
    for k in ("nack:tmac", "nack:short", "nack:ecb_len", "drop:long", "nack:ecc_plain"):
        assert counts.get(k, 0) > N // 100, k
