"""Run MicroPython test modules under the unix port: micropython host_tests/mp_run.py test_x [...]

Prints one line per test and a closing `N passed, N failed, N skipped`; exit status 1 on failure.
MICROPYPATH (set by tools/run_tests.py) puts firmware/lib, firmware, the repo root and
host_tests/mp on sys.path.
"""

import sys
import unittest


def main(argv):
    only = None
    if "-k" in argv:
        i = argv.index("-k")
        only = argv[i + 1]
        argv = argv[:i] + argv[i + 2 :]
    result = unittest.TestResult()
    for name in argv:
        if name.endswith(".py"):
            name = name.rsplit("/", 1)[-1][:-3]
        try:
            mod = __import__(name)
        except Exception as e:
            result.failed += 1
            result.failures.append(name)
            print("FAIL", name, "(import)")
            sys.print_exception(e)
            continue
        unittest.run_module(mod, result, only)
    print(unittest.summary_line(result))
    sys.exit(0 if result.wasSuccessful() else 1)


main(sys.argv[1:])
