"""Docs match code: the simulation figures quoted in README.md, docs/architecture.md and
docs/simulation.md are those of the committed bench result bench/data/sim.json; every repo path,
`make` target and code identifier the docs name exists."""

import json
import re

from tools.mpenv import ROOT

SIM = json.loads((ROOT / "bench" / "data" / "sim.json").read_text())
RUNS = {r["meters"]: r for r in SIM["runs"]}
FIGURE_DOCS = ("README.md", "docs/architecture.md", "docs/simulation.md")
FIGURE = re.compile(
    r"(\d+) meters\s+discover in ([\d.]+) s of\s+simulated time and ([\d.]+) s of\s+wall time"
)
# any other sentence putting a meter count next to a time would be a figure this test misses
OTHER = re.compile(r"\d+ meters[^.]{0,60}?\d[\d.]* (?:s|min|minutes)\b")


def _docs():
    return ["README.md"] + sorted(
        p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")
    )


def test_bench_result_is_complete():
    assert set(RUNS) == {20, 200}
    for n, r in RUNS.items():
        assert r["discovered"] == n and r["status_read"] == n and r["levels"] == 3


def test_simulation_figures_come_from_the_bench_result():
    for doc in FIGURE_DOCS:
        text = (ROOT / doc).read_text()
        found = FIGURE.findall(text)
        assert found, f"{doc}: no simulation figure found"
        for n, sim_s, wall_s in found:
            r = RUNS[int(n)]
            assert (sim_s, wall_s) == (
                "%.0f" % r["sim_discovery_s"],
                "%.1f" % r["wall_discovery_s"],
            ), f"{doc}: {n} meters: {sim_s} s / {wall_s} s, bench/data/sim.json says {r}"
        rest = OTHER.findall(FIGURE.sub("", text))
        assert rest == [], f"{doc}: figures not taken from bench/data/sim.json: {rest}"


def test_repo_paths_named_in_the_docs_exist():
    missing = []
    pattern = r"`((?:firmware|tools|boards|bench|host_tests|docs)/[^`\s]*)`"
    for doc in _docs():
        for m in re.finditer(pattern, (ROOT / doc).read_text()):
            path = m.group(1).rstrip(".,")
            if not any(c in path for c in "*<{") and not (ROOT / path).exists():
                missing.append((doc, path))
    assert missing == []


def test_make_targets_named_in_the_docs_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    named = set()
    for doc in _docs():
        named |= {(doc, t) for t in re.findall(r"`make ([a-z][a-z-]*)", (ROOT / doc).read_text())}
    assert sorted((d, t) for d, t in named if t not in targets) == []


def _defines(path, name):
    """path defines name: def/class, an assignment (attributes too), an import or a quoted field
    name (the Hardware bag lists its fields as strings)."""
    pats = (
        rf"^\s*(?:def|async def|class)\s+{name}\b",
        rf"\b{name}\s*=(?!=)",
        rf"^\s*(?:from|import)\s.*\b{name}\b",
        rf"[\"']{name}[\"']",
    )
    text = path.read_text()
    return any(re.search(p, text, re.M) for p in pats)


def test_identifiers_named_in_the_docs_exist():
    # every `name` or `module.name` quoted in these docs is an identifier of the code (or a
    # file's name); `pkg.module.name` must be defined in that module: a renamed class
    # (SimClock -> ManualClock) or a function moved elsewhere shows up here
    sources = [
        p for d in ("firmware", "tools", "boards", "bench") for p in (ROOT / d).rglob("*.py")
    ]
    words = set()
    for p in sources:
        words |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", p.read_text()))
    words |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_-]*", (ROOT / "Makefile").read_text()))
    words |= {
        p.stem for d in ("firmware", "tools", "boards", "docs") for p in (ROOT / d).rglob("*")
    }
    missing = []
    for doc in ("README.md", "docs/architecture.md", "docs/simulation.md", "docs/datalink.md"):
        for name in re.findall(r"`([A-Za-z_][A-Za-z0-9_.]+)(?:\(\))?`", (ROOT / doc).read_text()):
            if re.search(r"\.(py|json|txt|md|png|svg|mpy)$", name):
                continue  # a file name (repo paths are checked above; some live on the board)
            parts = name.split(".")
            mod = "/".join(parts[:-1])
            homes = [p for p in sources if mod and p.as_posix().endswith("/" + mod + ".py")]
            if homes:
                ok = any(_defines(p, parts[-1]) for p in homes)
            else:
                ok = parts[-1] in words
            if not ok:
                missing.append((doc, name))
    assert missing == []
