"""Rewrite host_tests/golden/display_screens.txt from what the firmware draws now.

Run after an intended change of the display's rendering, review the diff (`git diff
host_tests/golden/`), commit it. host_tests/mp/test_display_screens.py fails until then.
Usage: python tools/regen_display_goldens.py
"""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

SCRIPT = """
import display_fixture as f
with open(f.GOLDEN, "w") as out:
    out.write(f.format_goldens(f.render_all()))
print("wrote", f.GOLDEN)
"""


def main():
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=8M", "-c", SCRIPT], env=mp_env(), cwd=ROOT, text=True
    )
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
