"""Small unittest-compatible runner for MicroPython (micropython-lib's cannot be installed here).

Supports TestCase with setUp/tearDown/setUpClass/tearDownClass, the common assert* methods,
assertRaises as call or context manager, subTest, skip/skipIf/skipUnless/SkipTest and main().
"""

import sys


class SkipTest(Exception):
    pass


class _AssertRaises:
    def __init__(self, exc):
        self.expected = exc
        self.exception = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, tb):
        if exc_type is None:
            raise AssertionError("%r not raised" % (self.expected,))
        if issubclass(exc_type, self.expected):
            self.exception = exc_value
            return True
        return False


class _SubTest:
    def __init__(self, case, params):
        self.case = case
        self.params = params

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, tb):
        if exc_type is None or exc_type is SkipTest:
            return exc_type is SkipTest
        if issubclass(exc_type, Exception):
            self.case._subfailures.append((self.params, exc_value))
            return True
        return False


class TestCase:
    maxDiff = None

    def __init__(self, name="runTest"):
        self._name = name
        self._subfailures = []

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        pass

    def tearDown(self):
        pass

    def subTest(self, msg=None, **params):
        if msg is not None:
            params["msg"] = msg
        return _SubTest(self, params)

    def skipTest(self, reason):
        raise SkipTest(reason)

    def fail(self, msg=None):
        raise AssertionError(msg or "fail")

    def assertEqual(self, a, b, msg=None):
        if not a == b:
            raise AssertionError(msg or "%r != %r" % (a, b))

    def assertNotEqual(self, a, b, msg=None):
        if a == b:
            raise AssertionError(msg or "%r == %r" % (a, b))

    def assertTrue(self, x, msg=None):
        if not x:
            raise AssertionError(msg or "%r is not true" % (x,))

    def assertFalse(self, x, msg=None):
        if x:
            raise AssertionError(msg or "%r is not false" % (x,))

    def assertIs(self, a, b, msg=None):
        if a is not b:
            raise AssertionError(msg or "%r is not %r" % (a, b))

    def assertIsNot(self, a, b, msg=None):
        if a is b:
            raise AssertionError(msg or "%r is %r" % (a, b))

    def assertIsNone(self, x, msg=None):
        if x is not None:
            raise AssertionError(msg or "%r is not None" % (x,))

    def assertIsNotNone(self, x, msg=None):
        if x is None:
            raise AssertionError(msg or "unexpectedly None")

    def assertIn(self, a, b, msg=None):
        if a not in b:
            raise AssertionError(msg or "%r not in %r" % (a, b))

    def assertNotIn(self, a, b, msg=None):
        if a in b:
            raise AssertionError(msg or "%r unexpectedly in %r" % (a, b))

    def assertIsInstance(self, x, cls, msg=None):
        if not isinstance(x, cls):
            raise AssertionError(msg or "%r is not an instance of %r" % (x, cls))

    def assertLess(self, a, b, msg=None):
        if not a < b:
            raise AssertionError(msg or "%r not less than %r" % (a, b))

    def assertLessEqual(self, a, b, msg=None):
        if not a <= b:
            raise AssertionError(msg or "%r not less than or equal to %r" % (a, b))

    def assertGreater(self, a, b, msg=None):
        if not a > b:
            raise AssertionError(msg or "%r not greater than %r" % (a, b))

    def assertGreaterEqual(self, a, b, msg=None):
        if not a >= b:
            raise AssertionError(msg or "%r not greater than or equal to %r" % (a, b))

    def assertAlmostEqual(self, a, b, places=None, msg=None, delta=None):
        if delta is not None:
            ok = abs(a - b) <= delta
        else:
            ok = round(abs(a - b), 7 if places is None else places) == 0
        if not ok:
            raise AssertionError(msg or "%r != %r within tolerance" % (a, b))

    def assertRaises(self, exc, func=None, *args, **kwargs):
        ctx = _AssertRaises(exc)
        if func is None:
            return ctx
        with ctx:
            func(*args, **kwargs)
        return ctx


def skip(reason):
    def deco(f):
        def skipped(*a, **k):
            raise SkipTest(reason)

        return skipped

    return deco


def skipIf(cond, reason):
    return skip(reason) if cond else (lambda f: f)


def skipUnless(cond, reason):
    return skip(reason) if not cond else (lambda f: f)


class TestResult:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def wasSuccessful(self):
        return self.failed == 0


def _print_exc(e):
    if hasattr(sys, "print_exception"):
        sys.print_exception(e)
    else:  # CPython, when the runner is exercised there
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)


def _run_case(cls, name, result, label):
    case = cls(name)
    try:
        case.setUp()
        try:
            getattr(case, name)()
        finally:
            case.tearDown()
        if case._subfailures:
            for params, e in case._subfailures:
                print("  subtest", params, "failed:", repr(e))
            raise AssertionError("%d subtest(s) failed" % len(case._subfailures))
    except SkipTest as e:
        result.skipped += 1
        print("skip", label, "-", e)
        return
    except Exception as e:
        result.failed += 1
        result.failures.append(label)
        print("FAIL", label)
        _print_exc(e)
        return
    result.passed += 1
    print("ok  ", label)


def run_module(module, result=None, only=None):
    """Run every TestCase subclass found in module; return the TestResult."""
    result = result or TestResult()
    mod_name = getattr(module, "__name__", "?")
    for attr in sorted(dir(module)):
        cls = getattr(module, attr)
        if not (isinstance(cls, type) and issubclass(cls, TestCase)) or cls is TestCase:
            continue
        names = sorted(n for n in dir(cls) if n.startswith("test"))
        if only:  # substring of module.Class.method, like pytest -k on a node id
            names = [n for n in names if only in "%s.%s.%s" % (mod_name, attr, n)]
        if not names:
            continue
        try:
            cls.setUpClass()
        except SkipTest as e:
            result.skipped += len(names)
            print("skip", mod_name + "." + attr, "-", e)
            continue
        except Exception as e:
            result.failed += len(names)
            result.failures.append(mod_name + "." + attr + ".setUpClass")
            print("FAIL", mod_name + "." + attr, "setUpClass")
            _print_exc(e)
            continue
        for name in names:
            _run_case(cls, name, result, "%s.%s.%s" % (mod_name, attr, name))
        cls.tearDownClass()
    return result


def summary_line(result):
    return "%d passed, %d failed, %d skipped" % (result.passed, result.failed, result.skipped)


def main(module="__main__"):
    if isinstance(module, str):
        module = sys.modules[module]
    result = run_module(module)
    print(summary_line(result))
    sys.exit(0 if result.wasSuccessful() else 1)
