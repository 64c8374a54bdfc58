# Shared part of the board manifests (MicroPython tools/manifestfile.py runs it with paths
# relative to this file): the portable layers in firmware/lib (minus the other architecture's
# kernels), the wiring modules beside main.py, this board's module and its drivers.
# Included as include("firmware.py", arch=..., board=..., drivers=[...]); see docs/boards.md.
# main.py and config.json stay on the board's filesystem (tools/deploy.py copies them).
import os

_ROOT = "../.."
_LIB = _ROOT + "/firmware/lib"
_SKIP = {"thumb": "_xtensa.py", "xtensa": "_thumb.py"}[options.arch]


def _sources(top):
    out = []
    for f in sorted(os.listdir(top)):
        if f.endswith(".py") and not f.endswith(_SKIP):
            out.append(f)
    return out


for _name in sorted(os.listdir(_LIB)):
    if os.path.isdir(os.path.join(_LIB, _name)) and _name != "__pycache__":
        package(_name, files=_sources(os.path.join(_LIB, _name)), base_path=_LIB)
for _name in _sources(_LIB):
    module(_name, base_path=_LIB)
for _name in ("app.py", "board_select.py", "config.py", "selftest.py"):
    module(_name, base_path=_ROOT + "/firmware")
package("drivers", files=["__init__.py"] + list(options.drivers), base_path=_ROOT + "/firmware")
package("boards", files=["__init__.py", options.board + ".py"], base_path=_ROOT)
