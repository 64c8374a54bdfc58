"""`make mpy` trees and the deploy commands, for every board."""

import pytest

from tools import build_mpy, deploy


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


def test_deploy_commands(tmp_path):
    out = build_mpy.build("nucleo_f429zi", tmp_path)
    cmds = deploy.commands("nucleo_f429zi", "/dev/ttyACM0", out)
    assert cmds[-1][-1] == "reset"
    assert all(c[c.index("connect") + 1] == "/dev/ttyACM0" for c in cmds)
    copied = {c[-2].rsplit("/", 1)[-1] for c in cmds[:-1]}
    assert {"main.py", "boot.py", "lib", "boards", "board.txt"} <= copied
