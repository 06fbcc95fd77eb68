"""The analyst's notebook runs top to bottom on a small log, in the venv's kernel."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analyst.ipynb"


def test_the_analyst_notebook_runs_on_a_small_log(
    training_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this environment: the log, a registry to compare with (empty
    # here), and a small sample per snapshot so the run stays well under a minute.
    monkeypatch.setenv("CLOSECAST_NOTEBOOK_LOG", str(training_log))
    monkeypatch.setenv("CLOSECAST_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("CLOSECAST_NOTEBOOK_MAX_ROWS", "300")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    assert time.perf_counter() - started < 60
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs) + "".join(
        str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "calibrated fallback" in text and "gbm" in text and "logistic" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # close rate, reliability, capture, distribution, importance
    assert "would be promoted" in text  # the dry run reports the gate's decision
    assert not (tmp_path / "models").exists()  # ...and registered nothing
