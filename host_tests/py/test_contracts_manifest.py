"""Per-board frozen-module manifests (boards/manifests/<board>.py) against the code.

The manifests are run here by a small stand-in for MicroPython's tools/manifestfile.py (same
call forms: include/package/module/freeze with paths relative to the manifest being run and
include() keyword options); `$(PORT_DIR)` includes belong to the MicroPython tree and are only
recorded. Checks: every file a manifest names exists and cross-compiles for the board's arch;
every module a board's build() and the meter import on the fake port (both PLC backends;
host_tests/mp/contract_probe.py) is frozen; no other arch's kernel is frozen.
"""

import os
import subprocess
from pathlib import Path

import pytest

from tools.mpenv import ROOT, micropython_exe, mp_env, mpy_cross_exe

BOARDS = {"nucleo_f429zi": ("stm32", "armv7emsp"), "esp32_devkitc": ("esp32", "xtensawin")}


class Options:
    def __init__(self, kw):
        self.__dict__.update(kw)


class Manifest:
    def __init__(self):
        self.files = {}  # target path inside the frozen image -> source file
        self.external = []

    def run(self, path, **kw):
        path = Path(path).resolve()
        g = {
            "include": self.include,
            "package": self.package,
            "module": self.module,
            "freeze": self.freeze,
            "options": Options(kw),
        }
        cwd = os.getcwd()
        os.chdir(path.parent)
        try:
            exec(compile(path.read_text(), str(path), "exec"), g)
        finally:
            os.chdir(cwd)

    def include(self, path, **kw):
        if path.startswith("$("):
            self.external.append(path)
            return
        self.run(path, **kw)

    def _add(self, src, target):
        src = Path(src).resolve()
        assert src.is_file(), f"manifest names a missing file: {src}"
        self.files[target] = src

    def module(self, module_path, base_path=".", opt=None):
        self._add(Path(base_path) / module_path, module_path)

    def package(self, package_path, files=None, base_path=".", opt=None):
        top = Path(base_path) / package_path
        if files is None:
            files = [p.relative_to(top).as_posix() for p in top.rglob("*.py")]
        for f in files:
            self._add(top / f, f"{package_path}/{f}")

    def freeze(self, path, script=None, opt=None):
        for s in [script] if isinstance(script, str) else script:
            self._add(Path(path) / s, s)

    def modules(self):
        out = set()
        for t in self.files:
            name = t[:-3].replace("/", ".")
            out.add(name[: -len(".__init__")] if name.endswith(".__init__") else name)
        return out


def load(board):
    m = Manifest()
    m.run(ROOT / "boards" / "manifests" / f"{board}.py")
    return m


def ours(name):
    """True for a module that lives in this repo's firmware or boards."""
    rel = name.replace(".", "/")
    for base in (ROOT / "firmware" / "lib", ROOT / "firmware", ROOT):
        if (base / f"{rel}.py").is_file() or (base / rel / "__init__.py").is_file():
            return not rel.startswith(("host_tests", "tools"))
    return False


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_manifest_files_exist_and_fit_the_arch(board, tmp_path):
    port, arch = BOARDS[board]
    m = load(board)
    assert m.external == ["$(PORT_DIR)/boards/manifest.py"]
    other = "_xtensa.py" if arch == "armv7emsp" else "_thumb.py"
    assert not [t for t in m.files if t.endswith(other)]
    assert f"boards/{board}.py" in m.files
    for target, src in m.files.items():
        p = subprocess.run(
            [mpy_cross_exe(), f"-march={arch}", "-o", str(tmp_path / "m.mpy"), str(src)],
            capture_output=True,
            text=True,
        )
        assert p.returncode == 0, (target, p.stderr)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_manifest_covers_what_build_imports(board):
    port, _ = BOARDS[board]
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=8M", "host_tests/mp/contract_probe.py", board, port],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    imported = {ln.split()[1] for ln in p.stdout.splitlines() if ln.startswith("module ")}
    needed = {n for n in imported if ours(n)}
    assert f"boards.{board}" in needed and "app" in needed and "store" in needed
    missing = sorted(needed - load(board).modules())
    assert missing == [], f"{board}: imported but not frozen: {missing}"
