"""The move to the layout of issue 14, as a script, so that it can be applied again.

    python tools/relayout.py move       # the `git mv`s (once; skips what is already moved)
    python tools/relayout.py rewrite    # rewrite module paths in every tracked text file
    python tools/relayout.py rewrite FILE...   # ... or in these files only

`rewrite` is idempotent: run it after merging a branch written against the old layout,
and every `from streams.state import ...`, `streams.fold.apply`, `streams/replay.py`,
`from streams import broker`, `tests.workerproc` ... it added names the new place. Names
that moved out of a module (`Snapshot`, `ReplayStats` from the replay into the core) are
split into their own import. Run `ruff check --fix . && ruff format .` afterwards to sort
the rewritten imports. Test files a branch added at the top of `tests/` must still be
moved into their tier by hand (`git mv tests/test_x.py tests/unit/`; then `parents[1]`,
the repository root seen from `tests/`, becomes `parents[2]`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Old module -> new module. The core: what an event is and what folding it does, and the
# log and dead-letter formats both engines read and write.
CORE = ("contract", "state", "fold", "portrait", "log", "deadletter", "held")
EMBEDDED = ("replay", "parallel")
WORKER = (
    "app",
    "agents",
    "batches",
    "tables",
    "topics",
    "livescore",
    "repdirectory",
    "web",
    "monitor",
    "settings",
    "producer",
    "handoff",
    "faustfix",
    "progress",
)
MODULES: dict[str, str] = {
    **{f"streams.{m}": f"streams.core.{m}" for m in CORE},
    **{f"streams.{m}": f"streams.embedded.{m}" for m in EMBEDDED},
    **{f"streams.{m}": f"streams.worker.{m}" for m in WORKER},
    "streams.broker": "tools.broker",
    "tests.workerproc": "tests.support.workerproc",
    "tests.webworld": "tests.support.webworld",
    "tests.planning_support": "tests.support.planning",
}
# Names that left their module: (new module, name) -> where the name lives now.
SYMBOLS: dict[tuple[str, str], str] = {
    ("streams.embedded.replay", "Snapshot"): "streams.core.snapshot",
    ("streams.embedded.replay", "ReplayStats"): "streams.core.snapshot",
    ("streams.embedded.replay", "collector_paused"): "streams.core.collector",
}

TEST_TIERS = {"property": ("test_fold_properties.py",)}  # every other top-level test: unit

FILES: dict[str, str] = {
    **{f"streams/{m}.py": f"streams/core/{m}.py" for m in CORE},
    **{f"streams/{m}.py": f"streams/embedded/{m}.py" for m in EMBEDDED},
    **{f"streams/{m}.py": f"streams/worker/{m}.py" for m in WORKER},
    "streams/broker.py": "tools/broker/__init__.py",
    "streams/broker/pom.xml": "tools/broker/pom.xml",
    "tests/workerproc.py": "tests/support/workerproc.py",
    "tests/webworld.py": "tests/support/webworld.py",
    "tests/planning_support.py": "tests/support/planning.py",
}
# Paths named in prose (READMEs, docstrings, comments).
PATHS: dict[str, str] = {
    **{old: new for old, new in FILES.items() if not old.startswith("streams/broker")},
    "streams/broker.py": "tools/broker/",
    "streams/broker/pom.xml": "tools/broker/pom.xml",
}

# Tests named in prose by their old place (tests/test_x.py -> tests/unit/test_x.py).
for _tier in ("unit", "property"):
    for _test in sorted((REPO / "tests" / _tier).glob("test_*.py")):
        PATHS.setdefault(f"tests/{_test.name}", f"tests/{_tier}/{_test.name}")

TEXT = (
    ".py",
    ".md",
    ".toml",
    ".cfg",
    ".ini",
    ".txt",
    ".yml",
    ".yaml",
    ".ipynb",
    ".xml",
    "Makefile",
    "run",
)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout


def move() -> None:
    moves = dict(FILES)
    for test in sorted((REPO / "tests").glob("test_*.py")):
        tier = next((t for t, names in TEST_TIERS.items() if test.name in names), "unit")
        moves[f"tests/{test.name}"] = f"tests/{tier}/{test.name}"
    for old, new in moves.items():
        if not (REPO / old).exists() or (REPO / new).exists():
            continue
        (REPO / new).parent.mkdir(parents=True, exist_ok=True)
        _git("mv", old, new)
        if old.startswith("tests/") and old.count("/") == 1 and new.count("/") == 2:
            _deepen(REPO / new)
    for package in ("streams/core", "streams/embedded", "streams/worker", "tools", "tests/support"):
        init = REPO / package / "__init__.py"
        if not init.exists():
            init.write_text("")
            _git("add", str(init.relative_to(REPO)))


def _deepen(path: Path) -> None:
    """A test moved one folder down: the repository root is one parent further up."""
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "Path(__file__).resolve().parents[1]", "Path(__file__).resolve().parents[2]"
    )
    text = text.replace(
        "sys.path.insert(0, str(Path(__file__).resolve().parent))",
        "sys.path.insert(0, str(Path(__file__).resolve().parents[1]))",
    )
    path.write_text(text, encoding="utf-8")


def _dotted(old: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w.])" + re.escape(old) + r"(?![\w])")


_MODULE_RES = [
    (_dotted(old), new) for old, new in sorted(MODULES.items(), key=lambda kv: -len(kv[0]))
]
_PATH_RES = [
    (re.compile(r"(?<![\w/.])" + re.escape(old) + r"(?![\w])"), new)
    for old, new in sorted(PATHS.items(), key=lambda kv: -len(kv[0]))
]
# `from streams import broker, faustfix` (a package's modules imported by name).
_FROM_PACKAGE = re.compile(
    r"^(?P<indent>[ \t]*)from (?P<package>[\w.]+) import (?P<names>\([^)]*\)|[^\n]*)$", re.M
)


def _split_names(text: str) -> list[str]:
    return [n.strip() for n in text.strip("()").replace("\n", " ").split(",") if n.strip()]


def _rewrite_from(match: re.Match[str]) -> str:
    indent, package, names_text = match["indent"], match["package"], match["names"]
    comment = ""
    if "#" in names_text and not names_text.startswith("("):
        names_text, comment = names_text.split("#", 1)
        comment = "  #" + comment
    names = _split_names(names_text)
    moved: dict[str, list[str]] = {}
    kept: list[str] = []
    for name in names:
        base = name.split(" as ")[0].strip()
        full = f"{package}.{base}"
        if full in MODULES:  # a module imported from its package
            new_package, _, new_name = MODULES[full].rpartition(".")
            alias = name.split(" as ")[1].strip() if " as " in name else None
            entry = (
                new_name if alias is None and new_name == base else f"{new_name} as {alias or base}"
            )
            moved.setdefault(new_package, []).append(entry)
        elif (package, base) in SYMBOLS:  # a name that left its module
            moved.setdefault(SYMBOLS[(package, base)], []).append(name)
        else:
            kept.append(name)
    if not moved:
        return match.group(0)
    lines = []
    if kept:
        lines.append(f"{indent}from {package} import {', '.join(kept)}")
    for new_package, new_names in moved.items():
        lines.append(f"{indent}from {new_package} import {', '.join(new_names)}")
    return "\n".join(lines) + comment


def rewrite_text(text: str) -> str:
    for (module, name), new in SYMBOLS.items():
        text = _dotted(f"{module}.{name}").sub(f"{new}.{name}", text)
    for pattern, new in _MODULE_RES:
        text = pattern.sub(new, text)
    for (module, name), new in SYMBOLS.items():  # the dotted form once more, after the moves
        text = _dotted(f"{module}.{name}").sub(f"{new}.{name}", text)
    for pattern, new in _PATH_RES:
        text = pattern.sub(new, text)
    return _FROM_PACKAGE.sub(_rewrite_from, text)


def rewrite(paths: list[str]) -> int:
    if not paths:
        paths = [p for p in _git("ls-files").splitlines() if p.endswith(TEXT)]
    skip = {"tools/relayout.py"}
    changed = 0
    for name in paths:
        path = REPO / name if not Path(name).is_absolute() else Path(name)
        if str(path.relative_to(REPO)) in skip or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        new = rewrite_text(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    print(f"rewrote {changed} files")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("move", "rewrite"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "move":
        move()
        return 0
    return rewrite(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
