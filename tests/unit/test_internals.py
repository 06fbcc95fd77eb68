"""faust's, mode's and aiokafka's internals the worker uses (`streams.worker.internals`):
the versions they were read against are the ones installed and pinned, and every private
name and signature listed there still exists as written."""

from __future__ import annotations

import ast
import inspect
import re
import tomllib
from pathlib import Path

import pytest

from streams.worker import internals
from streams.worker.internals import CHECKED, USED, Internal

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())


def test_the_installed_versions_are_the_checked_ones() -> None:
    assert internals.version_problems() == []
    internals.check_versions()


def test_pyproject_pins_exactly_the_checked_versions() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for spec in project["dependencies"]:
        found = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*([^;]*)(;.*)?", spec)
        assert found is not None, spec
        pins[found[1]] = found[2].strip()
    assert {p: pins.get(p) for p in CHECKED} == {p: f"=={v}" for p, v in CHECKED.items()}
    major, minor = internals.CHECKED_PYTHON
    assert project["requires-python"] == f">={major}.{minor},<{major}.{minor + 1}"


def test_another_version_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(internals.CHECKED, "aiokafka", "0.0.1")
    with pytest.raises(RuntimeError, match=r"aiokafka 0\.14\.0 \(checked: 0\.0\.1\)"):
        internals.check_versions()


def _source(cls: type) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):  # a builtin or generated class: it sets nothing itself
        return ""


@pytest.mark.parametrize("item", USED, ids=lambda i: f"{i.owner}.{i.name}")
def test_each_internal_used_still_exists_as_written(item: Internal) -> None:
    owner = internals.resolve(item.owner)
    if item.kind == "instance":
        # Set by the class's own code on each instance (`self.<name> = ...`).
        sources = "".join(_source(c) for c in owner.__mro__)
        assert re.search(rf"self\.{re.escape(item.name)}\s*(:[^=]+)?=", sources), item
        return
    assert hasattr(owner, item.name), item
    if item.kind == "method":
        params = tuple(inspect.signature(getattr(owner, item.name)).parameters)
        assert params == item.params, (item.name, params)
    else:
        assert item.kind == "attribute", item


def test_only_listed_names_can_be_replaced() -> None:
    consumer = internals.consumer_class()
    with pytest.raises(AssertionError, match="not listed"):
        internals.replace_method(consumer, "stop", lambda original: original, "_never")
    assert not hasattr(consumer, "_never")


def test_no_other_worker_module_touches_a_private_name_of_the_libraries() -> None:
    private = {i.name for i in USED if i.name.startswith("_")}
    worker = REPO / "streams" / "worker"
    for path in sorted(worker.glob("*.py")):
        if path.name == "internals.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} & private
        assert used == set(), (path.name, used)
