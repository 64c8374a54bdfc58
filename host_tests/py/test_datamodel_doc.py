"""docs/datamodel.md is generated from the firmware's register table: fail when it is stale."""

import subprocess
import sys

from tools.mpenv import ROOT


def test_datamodel_doc_is_current():
    p = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_datamodel_doc.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr + " (run `make docs`)"
