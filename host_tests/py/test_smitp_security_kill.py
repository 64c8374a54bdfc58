"""System test: SIGKILL the meter's security layer between accepting a request and sending its
answer, 200 times (SEC_KILLS to change; the seed is fixed).

Each round starts sec_worker.py (MicroPython) on the same SimFlash file, which prints the LMON it
resumes with. The concentrator side (CPython, `cryptography`) then checks:
- LMON has not gone back: it is >= every MON the meter ever reported accepted;
- no replay is accepted: the request killed last round and older accepted ones get NACK-auth
  (verified) carrying that LMON; the concentrator adopts it (resynchronises);
- then 0-3 normal exchanges (answers verified) and one more request sent with `gate`, so the
  worker never answers it. Half the kills come right after the worker reports `accepted`; the
  other half after a random 0-1.5 ms, which can land inside the LMON record write or a store
  compaction (odd rounds: window 1, every accepted message writes; even rounds: the default
  32). The count of kills before `accepted` is printed, not asserted (it depends on timing).
"""

import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smitp_sec_ref as ref  # noqa: E402

from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

KILLS = int(os.environ.get("SEC_KILLS", "200"))
SEED = 20261201
ACA, KW, KR, WORKER = ref.ACA, ref.KW, ref.KR, ref.WORKER


def _req(rng, mon):
    ecc = rng.choice((1, 5))
    data = rng.randbytes(rng.randint(0, 40))
    return ref.seal(ecc, rng.choice((102, 104)), ACA, mon, data, bytes(8), KW, KR), ecc


def _send(w, lsdu, ecc, gate=False):
    w.stdin.write(b"%d %s%s\n" % (ecc, lsdu.hex().encode(), b" gate" if gate else b""))
    w.stdin.flush()


def _line(w):
    return w.stdout.readline().decode().split()


def test_lmon_survives_kills_and_no_replay(tmp_path):
    rng = random.Random(SEED)
    flash = str(tmp_path / "flash.bin")
    floor = 0  # highest MON the meter ever reported accepted
    accepted = []  # every request the meter reported accepted (answered or killed)
    pending = None  # (lsdu, ecc, mon): killed before any `accepted` line: unknown
    killed_after_accept = 0
    t0 = time.monotonic()
    for i in range(KILLS):
        window = "1" if i % 2 else "32"
        w = subprocess.Popen(
            [micropython_exe(), WORKER, flash, window],
            env=mp_env(),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        boot = _line(w)
        assert boot[0] == "lmon", (i, boot, w.stderr.read())
        lmon = int(boot[1])
        assert lmon >= floor, ("LMON went back", i, lmon, floor)
        replays = accepted[-1:] + rng.sample(accepted, min(2, len(accepted)))
        if pending is not None and pending[2] <= lmon:
            replays.append(pending[:2])  # killed before it said `accepted`, yet it had been
        pending = None
        for lsdu, ecc in replays:
            _send(w, lsdu, ecc)
            got = _line(w)
            assert got[:3] == ["sent", "tmac", "2"], ("replay not refused", i, got)
            assert ref.open_nack_auth(ACA, lsdu, bytes.fromhex(got[3]), KR) == (10, lmon)
            assert int(_line(w)[1]) == lmon
        for _ in range(rng.randint(0, 3)):
            lsdu, ecc = _req(rng, lmon + 1)
            _send(w, lsdu, ecc)
            assert _line(w) == ["accepted", str(lmon + 1)], i
            ans = _line(w)
            a = bytes.fromhex(ans[2])
            data = ref.open_sealed(int(ans[1]), ACA, lmon + 1, a, KW, KR, answer=True)[1]
            assert data == ref.open_sealed(ecc, ACA, lmon + 1, lsdu, KW, KR)[1]
            lmon += 1
            floor = lmon
            accepted.append((lsdu, ecc))
            _line(w)  # state
        lsdu, ecc = _req(rng, lmon + 1)
        _send(w, lsdu, ecc, gate=True)
        if i % 4 < 2:
            got = _line(w)
            assert got == ["accepted", str(lmon + 1)], (i, got)
            w.send_signal(signal.SIGKILL)
            rest = w.communicate(timeout=30)[0].decode()
            killed_after_accept += 1
        else:
            time.sleep(rng.uniform(0.0, 0.0015))
            w.send_signal(signal.SIGKILL)
            rest = w.communicate(timeout=30)[0].decode()
            if rest.startswith("accepted"):
                # the kill may land before the line's newline is out: then nothing follows it
                rest = rest.split("\n", 1)[1] if "\n" in rest else ""
                killed_after_accept += 1
                got = ["accepted"]
            else:
                got = []
        assert w.returncode == -signal.SIGKILL, (i, w.returncode)
        assert "answer" not in rest, (i, rest)
        if got:
            floor = lmon + 1
            accepted.append((lsdu, ecc))
        else:
            pending = (lsdu, ecc, lmon + 1)
    dt = time.monotonic() - t0
    print(
        f"{KILLS} kills in {dt:.1f}s: {killed_after_accept} after `accepted`, "
        f"{KILLS - killed_after_accept} before it; LMON {floor}"
    )
    assert killed_after_accept >= KILLS // 2
