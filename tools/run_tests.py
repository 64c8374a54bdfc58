"""`make test`: MicroPython unit tests (one process per module), then pytest; one summary line.

Usage: python tools/run_tests.py [-k SUBSTRING] [--mp-only | --py-only]

Test modules are host_tests/mp/test_*.py and host_tests/py/test_*.py; helpers take any other
name (a test_*.py in which no test runs counts as a failure here).
"""

import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.mpenv import HOST_TESTS, ROOT, micropython_exe, mp_env  # noqa: E402

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")
MP_TIMEOUT_S = 900


def run_mp_module(path, only):
    cmd = [micropython_exe(), "-X", "heapsize=8M", str(HOST_TESTS / "mp_run.py"), path.name]
    if only:
        cmd += ["-k", only]
    t0 = time.monotonic()
    try:
        p = subprocess.run(
            cmd, env=mp_env(), cwd=ROOT, capture_output=True, text=True, timeout=MP_TIMEOUT_S
        )
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") + "\nTIMEOUT", -1
    counts = [0, 0, 0]
    for line in out.splitlines():
        m = SUMMARY.match(line.strip())
        if m:
            counts = [int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)]
    if rc != 0 and counts[1] == 0:
        counts[1] = 1  # crashed or timed out without reporting: count the module as a failure
    if rc == 0 and not only and counts == [0, 0, 0]:
        counts[1] = 1  # a test_*.py that runs no test: a helper must be named otherwise
        out += "\nno test ran in this module (helpers must not be named test_*.py)"
    return path.name, counts, out, time.monotonic() - t0


def run_mp(only):
    mods = sorted((HOST_TESTS / "mp").glob("test_*.py"))
    totals = [0, 0, 0]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for name, counts, out, dt in pool.map(lambda m: run_mp_module(m, only), mods):
            status = "ok" if counts[1] == 0 else "FAILED"
            print(f"[mp] {name}: {counts[0]} passed, {counts[1]} failed ({dt:.1f}s) {status}")
            if counts[1]:
                print(out)
            totals = [a + b for a, b in zip(totals, counts)]
    return totals


def run_pytest(only):
    junit = ROOT / "build" / "pytest.xml"
    junit.parent.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-q", str(HOST_TESTS / "py"), f"--junitxml={junit}"]
    if only:
        cmd += ["-k", only]
    p = subprocess.run(cmd, cwd=ROOT)
    if p.returncode == 5:  # no tests collected (e.g. -k filtered everything)
        return [0, 0, 0]
    import xml.etree.ElementTree as ET

    try:
        suite = ET.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        tests = int(suite.get("tests"))
        failed = int(suite.get("failures")) + int(suite.get("errors"))
        skipped = int(suite.get("skipped"))
    except Exception:
        return [0, 1, 0]
    if p.returncode != 0 and failed == 0:
        failed = 1
    return [tests - failed - skipped, failed, skipped]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", dest="only")
    ap.add_argument("--mp-only", action="store_true")
    ap.add_argument("--py-only", action="store_true")
    a = ap.parse_args()
    t0 = time.monotonic()
    totals = [0, 0, 0]
    if not a.py_only:
        totals = [x + y for x, y in zip(totals, run_mp(a.only))]
    if not a.mp_only:
        totals = [x + y for x, y in zip(totals, run_pytest(a.only))]
    print(f"test time {time.monotonic() - t0:.0f}s")
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    sys.exit(1 if totals[1] else 0)


if __name__ == "__main__":
    main()
