"""Expected revenue where managers read it: per customer in the scores, per rep and team
with an 80% interval in `closecast forecast`, the manager report and `closecast manager`."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from closecast.cli import main
from features.customer import feature_matrix
from features.policy import Policy
from models.registry import Registry
from models.revenue import RevenueModel, ValueForecast
from models.scoring import Scorer, score_snapshot
from planning.manager import build_manager_report
from planning.report import render
from streams.core.contract import Event
from streams.core.log import append_events
from tests.support.planning import DAY, book, customer_events, ev, iso, joined, snapshot

LINE = re.compile(r"expected revenue next 90 days: ([\d,]+) \(([\d,]+) to ([\d,]+)\)")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _events() -> list[Event]:
    events = [joined("r1", 900), joined("r2", 300), joined("boss", 900, role="manager")]
    for k in range(8):
        events += customer_events(f"a{k}", "r1", n=3 + k, last_days_ago=10 + k)
        events += customer_events(f"b{k}", "r2", n=2 + k, last_days_ago=15 + k)
    # A steady repeat customer: an order every 30 days for a year.
    events += [
        ev("order_won", -d * DAY, "a0", "r1", order_id=f"o{d}", amount=2000.0)
        for d in range(30, 390, 30)
    ]
    events.append(ev("order_won", -200 * DAY, "b1", "r2", order_id="ob", amount=9000.0))
    events.append(ev("customer_suspended", -3 * DAY, "b7", "r2", reason="timing"))
    return events


def test_fallback_expected_revenue_counts_repeat_orders_not_one_order() -> None:
    snap = snapshot(_events())
    scores = score_snapshot(snap, Scorer(None), Policy()).set_index("customer_id")
    assert (scores["revenue_basis"] == "fallback").all()
    assert (scores["predicted_value"] == scores["expected_revenue"]).all()
    assert (scores["expected_orders"] >= scores["p_close"] - 1e-4).all()
    np.testing.assert_allclose(
        scores["expected_revenue"], scores["expected_orders"] * scores["expected_value"], atol=0.01
    )
    # Twelve orders over the 360 days since the first: three a quarter, not one order.
    a0 = scores.loc["a0"]
    assert a0["expected_orders"] == pytest.approx(a0["p_close"] * 12 * 90 / 360, rel=0.01)
    assert a0["expected_revenue"] == pytest.approx(
        3 * a0["p_close"] * a0["expected_value"], rel=0.01
    )
    # A lead orders once if it orders.
    lead = scores.loc["a3"]
    assert lead["expected_orders"] == pytest.approx(lead["p_close"], abs=1e-4)


def test_a_value_forecast_gives_the_scores_their_expected_revenue() -> None:
    snap = snapshot(_events())
    states = sorted(snap.customers.values(), key=lambda s: s.customer_id)
    X = feature_matrix(states, snap.reps, snap.as_of)
    rng = np.random.default_rng(0)
    Xt = np.repeat(X, 30, axis=0)
    orders = rng.poisson(0.5, len(Xt))
    revenue = orders * 1000.0
    forecast = ValueForecast(RevenueModel(max_iter=10).fit(Xt, revenue, orders=orders))
    scores = score_snapshot(snap, Scorer(None, value=forecast), Policy())
    assert (scores["revenue_basis"] == "forecast").all()
    np.testing.assert_allclose(scores["expected_revenue"], forecast.expected_revenue(X), atol=0.01)
    assert (scores["predicted_value"] == scores["expected_revenue"]).all()


def test_the_manager_report_says_expected_revenue_with_its_interval() -> None:
    # Expected revenues of several orders' worth (the heuristic's alone are a fraction of
    # one order, whose 80% interval is "nothing": 0 to 0).
    worth = {f"{g}{k}": 20_000.0 + 1000 * k for g in "ab" for k in range(8)}
    b, snap = book(_events(), value=worth)
    report = build_manager_report(b, snap.reps, Policy())
    lines = [line for line in report.headline() if LINE.search(line)]
    assert len(lines) == 1
    expected, low, high = (_number(x) for x in LINE.search(lines[0]).groups())  # type: ignore[union-attr]
    assert expected == pytest.approx(b.predicted_value.sum(), abs=1)
    assert low < expected < high
    reps = report.revenue.reps.set_index("rep_id")
    assert set(reps.index) == {"r1", "r2"}  # the manager owns nothing and sells nothing
    owned = ~b.in_pool
    for rep in ("r1", "r2"):
        mine = owned & (b.owner == rep)
        assert reps.loc[rep, "expected"] == pytest.approx(b.predicted_value[mine].sum())
        assert reps.loc[rep, "customers"] == int(mine.sum())
    assert "revenue_reps" in report.tables()
    page = render(report)
    assert "Revenue forecast" in page
    assert report.revenue.team_line() in page
    assert all(LINE.search(line) for line in report.revenue.rep_lines())


def _log(path: Path) -> Path:
    append_events(path, _events())
    return path


def test_forecast_command_prints_team_and_reps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(tmp_path / "log.jsonl")
    base = [str(log), "--as-of", iso(snapshot(_events()).as_of), "--model-dir", str(tmp_path / "m")]
    assert main(["forecast", *base]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("team: ") and LINE.search(out[0])
    assert "[interval not backtested]" in out[0]  # no backtested forecast is served
    assert [line.split()[0] for line in out[1:]] == ["r1", "r2"]
    assert all(LINE.search(line) for line in out[1:])
    assert main(["forecast", *base, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["horizon_days"] == 90
    team = data["team"]
    # (The heuristic expects a fraction of one order here: its likeliest outcome is none.)
    assert team["expected"] > 0 and 0 <= team["low"] <= team["high"]
    assert [r["rep_id"] for r in data["reps"]] == ["r1", "r2"]
    assert set(data["reps"][0]) >= {"rep_id", "name", "expected", "low", "high"}
    # The team's figure is the sum of the customers' expected revenue in the scores.
    scores = tmp_path / "scores.csv"
    assert main(["score", *base, "--out", str(scores)]) == 0
    with scores.open() as handle:
        total = sum(float(r["expected_revenue"]) for r in csv.DictReader(handle))
    assert team["expected"] == pytest.approx(total, abs=1)
    # And the same line opens `closecast manager`'s headline, reps below.
    assert main(["manager", *base, "--table", "revenue_reps"]) == 0
    printed = capsys.readouterr().out
    assert LINE.search(printed) and "by rep:" in printed


def test_forecast_serves_the_value_forecast_stored_with_the_current_model(
    trained_registry: tuple[Path, object],
    training_log: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "models"
    shutil.copytree(trained_registry[0], root)
    registry = Registry(root)
    version = registry.current()
    assert version is not None
    assert registry.load_value(version) is not None  # `retrain` stored it, checksummed
    args = ["forecast", str(training_log), "--as-of", "2026-06-30", "--model-dir", str(root)]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backtested"] is True  # walk-forward origins measured its systematic miss
    out = tmp_path / "scores.csv"
    assert main(["score", *args[1:], "--out", str(out)]) == 0
    capsys.readouterr()
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["revenue_basis"] for r in rows} == {"forecast"}
    total = sum(float(r["expected_revenue"]) for r in rows)
    assert data["team"]["expected"] == pytest.approx(total, abs=1)
    # A forecast file that does not match its checksum is not served.
    (registry.versions_dir / version / "value.joblib").write_bytes(b"tampered")
    assert registry.load_value(version) is None
