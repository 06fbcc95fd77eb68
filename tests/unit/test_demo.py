"""`closecast demo` (what `make demo` runs): the whole product, in process, on a simulated
log: replay, a trained model that beats the rules, scores, call lists, a manager summary."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from closecast.cli import main


def test_the_demo_trains_a_model_and_scores_every_customer_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "demo"
    args = ["demo", "--dir", str(work)]  # the sizes `make demo` runs with
    assert main(args) == 0
    out = capsys.readouterr().out
    numbered = {f"{i}." for i in range(1, 10)}
    steps = [line[0] for line in out.splitlines() if line[:2] in numbered]
    assert steps == ["1", "2", "3", "4", "5", "6"], out
    assert "promoted " in out and "it beats the rules on every gate" in out
    with (work / "scores.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3000
    # The model scores every row it accepts; rows outside what it saw in training fall
    # back to the rules, row by row.
    sources = Counter(row["source"] for row in rows)
    assert set(sources) <= {"model", "heuristic"} and sources["model"] >= 0.8 * len(rows)
    # A rep's call list, headed by the rep's name and id, with its counts.
    assert re.search(r"^== .+ \(r\d+\): \d+ to contact today: \d+ overdue", out, re.M)
    assert "done in" in out

    # Run again: the new candidate must beat the current model to replace it; either
    # way the demo scores with the registry's current model.
    assert main(args) == 0
    again = capsys.readouterr().out
    assert "4. scored every customer with model " in again


def test_the_demo_scores_with_a_given_registry_without_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["demo", "--dir", str(tmp_path), "--customers", "300", "--reps", "5", "--days", "200"]
    assert main([*args, "--model-dir", str(tmp_path / "empty")]) == 0
    out = capsys.readouterr().out
    assert "3. trained" not in out
    assert "4. scored every customer with heuristic" in out
    assert "no trained model is current" in out
