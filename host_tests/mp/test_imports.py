"""Every firmware and board module imports under Unix MicroPython (kernels for another arch
excepted: asm_thumb/asm_xtensa cannot be compiled by the unix port)."""

import os
import sys
import unittest

ROOT = os.getcwd()


def _walk(base, rel=""):
    path = base + ("/" + rel if rel else "")
    for entry in sorted(os.listdir(path)):
        sub = rel + "/" + entry if rel else entry
        if entry.endswith(".py"):
            yield sub
        elif "." not in entry and entry != "__pycache__":
            try:
                os.listdir(base + "/" + sub)
            except OSError:
                continue
            yield from _walk(base, sub)


def _module_names():
    names = []
    for rel in _walk(ROOT + "/firmware"):
        if rel.endswith(("_thumb.py", "_xtensa.py")) or rel in ("main.py", "boot.py"):
            continue
        parts = rel[:-3].split("/")
        if parts[0] == "lib":
            parts = parts[1:]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    for rel in _walk(ROOT + "/boards"):
        if not rel.startswith("manifests/"):  # build scripts for MicroPython's manifest tool
            names.append("boards." + rel[:-3].replace("/", "."))
    return names


class TestImports(unittest.TestCase):
    def test_every_module_imports(self):
        names = _module_names()
        self.assertGreater(len(names), 10)
        bad = []
        for name in names:
            try:
                __import__(name)
            except Exception as e:
                bad.append("%s: %r" % (name, e))
        self.assertEqual(bad, [])

    def test_main_builds_no_io_at_import(self):
        # importing main.py only defines functions: it imports no other module, opens no
        # file and leaves sys.path alone; building and running need explicit calls.
        import builtins

        sys.modules.pop("main", None)
        names = ("app", "config", "board_select", "asyncio")
        saved = {k: sys.modules.pop(k) for k in names if k in sys.modules}
        before, path, opened = set(sys.modules), list(sys.path), []
        real_open = builtins.open

        def spy(*args, **kw):
            opened.append(args[0])
            return real_open(*args, **kw)

        builtins.open = spy
        try:
            m = __import__("main")
            added = sorted(set(sys.modules) - before)
        finally:
            builtins.open = real_open
            sys.modules.update(saved)
        self.assertEqual(added, ["main"])
        self.assertEqual(opened, [])
        self.assertEqual(sys.path, path)
        self.assertTrue(callable(m.build) and callable(m.main))
