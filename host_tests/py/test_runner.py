"""The MicroPython unittest runner must report failures, skips and crashes, or no test means
anything."""

import subprocess

from tools.mpenv import HOST_TESTS, micropython_exe, mp_env

SAMPLE = """
import unittest

class T(unittest.TestCase):
    def test_pass(self):
        self.assertEqual(1 + 1, 2)

    def test_fail(self):
        self.assertEqual(1, 2)

    def test_raises_ok(self):
        with self.assertRaises(ValueError):
            int("x")

    def test_raises_missing(self):
        with self.assertRaises(ValueError):
            pass

    @unittest.skip("because")
    def test_skipped(self):
        pass

    def test_error(self):
        {}["missing"]

    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 2)
"""


def run(tmp_path, source, *names):
    (tmp_path / "test_sample.py").write_text(source)
    env = mp_env()
    env["MICROPYPATH"] = f"{tmp_path}:{env['MICROPYPATH']}"
    return subprocess.run(
        [micropython_exe(), str(HOST_TESTS / "mp_run.py"), *names],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_counts_pass_fail_skip(tmp_path):
    p = run(tmp_path, SAMPLE, "test_sample")
    assert p.returncode == 1
    assert p.stdout.strip().splitlines()[-1] == "2 passed, 4 failed, 1 skipped"


def test_import_error_is_a_failure(tmp_path):
    p = run(tmp_path, "import no_such_module\n", "test_sample")
    assert p.returncode == 1
    assert p.stdout.strip().splitlines()[-1] == "0 passed, 1 failed, 0 skipped"


def test_all_passing_exits_zero(tmp_path):
    src = "import unittest\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n"
    p = run(tmp_path, src, "test_sample")
    assert p.returncode == 0
    assert p.stdout.strip().splitlines()[-1] == "1 passed, 0 failed, 0 skipped"


def test_a_module_without_tests_fails_the_run(tmp_path):
    # tools/run_tests.py counts a test_*.py that runs no test as a failure (a misnamed helper)
    from tools import run_tests

    (tmp_path / "mp").mkdir()
    (tmp_path / "mp" / "test_helper_only.py").write_text("def helper():\n    return 1\n")
    env = dict(mp_env())
    env["MICROPYPATH"] = f"{tmp_path / 'mp'}:{env['MICROPYPATH']}"
    import unittest.mock as mock

    with mock.patch.object(run_tests, "mp_env", return_value=env):
        name, counts, out, _ = run_tests.run_mp_module(
            tmp_path / "mp" / "test_helper_only.py", None
        )
    assert counts == [0, 1, 0] and "helpers must not be named" in out


def test_every_test_module_defines_tests():
    # pytest collects test_*.py in py/, tools/run_tests.py runs test_*.py in mp/: a helper with
    # such a name would be counted as a test module; helpers carry other names
    import re

    empty = []
    for sub in ("mp", "py"):
        for f in sorted((HOST_TESTS / sub).glob("test_*.py")):
            if not re.search(r"^\s*(async )?def test_", f.read_text(), re.M):
                empty.append(f.name)
    assert empty == []
