"""The analyst page's data: backtests and curves read from any metadata shape, two
versions compared, and promotion and rollback recorded in the audit log."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from web.analysis import backtest_of, change_model, comparison, points_of, registry_entries
from web.audit import AuditLog, verify
from web.errors import HttpError


def _registry(root: Path) -> list[str]:
    versions = ["20260101T000000-gbm-aaaa", "20260201T000000-gbm-bbbb"]
    for k, version in enumerate(versions):
        folder = root / "versions" / version
        folder.mkdir(parents=True)
        meta: dict[str, Any] = {
            "version": version,
            "metrics": {"roc_auc": 0.80 + k / 100, "brier": 0.05 - k / 100},
            "backtest": {
                "origins": [
                    {
                        "origin": "2025-10-01",
                        "metrics": {"roc_auc": 0.79, "capture_10": 0.4},
                        "reliability": [{"predicted": 0.1, "observed": 0.12}, [0.5, 0.4]],
                    },
                    {"origin": "2025-11-01", "metrics": {"roc_auc": 0.81}},
                ],
                "curves": {"roc": {"fpr": [0, 0.2, 1], "tpr": [0, 0.7, 1]}},
            },
        }
        (folder / "metadata.json").write_bytes(orjson.dumps(meta))
    (root / "current").write_text(versions[0] + "\n")
    (root / "history.json").write_text(orjson.dumps([versions[0]]).decode())
    return versions


def test_curves_are_read_from_the_shapes_metadata_uses() -> None:
    assert points_of([[0.2, 0.7], [0, 0]]) == [(0.0, 0.0), (0.2, 0.7)]
    assert points_of({"fpr": [0, 1], "tpr": [0, 1]}) == [(0.0, 0.0), (1.0, 1.0)]
    assert points_of([{"mean_predicted": 0.3, "observed_rate": 0.25}]) == [(0.3, 0.25)]
    assert points_of("nonsense") == [] and points_of([["a", 1], None]) == []
    found = backtest_of({"metrics": {}, "calibration": [[0.1, 0.1]], "backtest": "?"})
    assert found == {"origins": [], "curves": {"calibration": {"holdout": [(0.1, 0.1)]}}}


def test_a_walk_forward_backtest_shows_per_origin(tmp_path: Path) -> None:
    _registry(tmp_path)
    entry = registry_entries(tmp_path)[0]
    assert [o["origin"] for o in entry["origins"]] == ["2025-10-01", "2025-11-01"]
    assert entry["origins"][0] == {"origin": "2025-10-01", "roc_auc": 0.79, "capture_10": 0.4}
    assert entry["curves"]["calibration"] == {"2025-10-01": [(0.1, 0.12), (0.5, 0.4)]}
    assert entry["curves"]["roc"] == {"all origins": [(0.0, 0.0), (0.2, 0.7), (1.0, 1.0)]}


def test_two_versions_side_by_side(tmp_path: Path) -> None:
    a, b = _registry(tmp_path)
    table = comparison(registry_entries(tmp_path), a, b)
    rows = {r["metric"]: r for r in table["rows"]}
    assert rows["roc_auc"]["difference"] == pytest.approx(0.01)
    assert rows["brier"]["difference"] == pytest.approx(-0.01)
    with pytest.raises(HttpError, match="no model version"):
        comparison(registry_entries(tmp_path), a, "nope")


def test_promotion_and_rollback_are_the_analysts_and_audited(tmp_path: Path) -> None:
    a, b = _registry(tmp_path)
    audit = AuditLog(tmp_path / "audit.jsonl")
    svc = cast(Any, SimpleNamespace(model_dir=tmp_path, audit=audit))
    ann = cast(Any, SimpleNamespace(user=SimpleNamespace(id="ann", role="analyst"), request_id="r"))
    assert change_model(svc, ann, "promote", b) == b
    assert (tmp_path / "current").read_text().strip() == b
    assert change_model(svc, ann, "rollback") == a
    assert (tmp_path / "current").read_text().strip() == a
    with pytest.raises(HttpError, match="no model version"):
        change_model(svc, ann, "promote", "nope")
    mona = cast(Any, SimpleNamespace(user=SimpleNamespace(id="mona", role="manager")))
    with pytest.raises(HttpError, match="analysts only"):
        change_model(svc, mona, "promote", b)
    lines = [orjson.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(x["action"], x["outcome"], x["reason"]) for x in lines] == [
        ("model_promote", "done", f"{a} -> {b}"),
        ("model_rollback", "done", f"{b} -> {a}"),
        ("model_promote", "refused", lines[2]["reason"]),
    ]
    assert verify(tmp_path / "audit.jsonl") == (True, 3)
    audit.close()
