"""The evaluation report: a registered model and the heuristic on the same holdout rows,
as a metrics table and four plots, in one self-contained HTML file (PNG images inlined
as base64, so it can be mailed or archived as is).

The holdout is every labelled row the model's training labels cannot have seen: as-of
times at least one horizon after the last training as-of time (`training.evaluate`
explains the gap). On the log the model was trained from, that is its own holdout; on a
longer log it also covers the months since.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from features.customer import FEATURE_NAMES, FEATURES
from features.policy import DEFAULT, Policy
from models.heuristic import HeuristicModel
from models.learned import TrainedModel
from models.registry import Registry
from models.scoring import Scorer
from streams.core.contract import to_datetime, to_ts
from streams.core.state import DAY_US
from training.dataset import Dataset
from training.evaluate import (
    Metrics,
    capture_curve,
    metrics,
    permutation_importance,
    reliability,
)

_COLORS = {"model": "#1f77b4", "heuristic": "#ff7f0e"}


@dataclass
class Scored:
    """One scorer's probabilities on the holdout rows."""

    name: str
    p: np.ndarray
    metrics: Metrics
    coverage: float | None = None


@dataclass
class Evaluation:
    version: str
    metadata: dict[str, Any]
    y: np.ndarray
    as_of: np.ndarray
    scored: list[Scored]
    importance: pd.Series
    notes: list[str] = field(default_factory=list)


def holdout_mask(dataset: Dataset, metadata: Mapping[str, Any]) -> np.ndarray:
    """Labelled rows at least one horizon after the model's last training as-of time."""
    training = metadata.get("training") or {}
    last = to_ts(datetime.fromisoformat(str(training["last_as_of"])))
    horizon = int(training.get("horizon_days", dataset.config.horizon_days))
    start = last + horizon * DAY_US
    return np.asarray(dataset.labelled & (dataset.as_of >= start))


def evaluate_version(
    registry: Registry, version: str, dataset: Dataset, policy: Policy = DEFAULT
) -> Evaluation:
    """Score the holdout rows of `dataset` with `version` (as served) and the heuristic."""
    model: TrainedModel = registry.load(version)
    meta = registry.metadata(version)
    rows = holdout_mask(dataset, meta)
    if not rows.any():
        raise ValueError(
            "no labelled rows after the model's training window in this log: evaluate on a "
            "log that runs at least two horizons past its last training as-of time"
        )
    X, y, as_of = dataset.X[rows], dataset.y[rows].astype(int), dataset.as_of[rows]
    calibration, _ = registry.fallback()
    p_model, accepted = Scorer(model, policy, calibration=calibration).probabilities(X)
    p_rules = HeuristicModel(policy, calibration).fit().predict_proba(X)[:, 1]
    rules = "heuristic (calibrated)" if calibration is not None else "heuristic"
    scored = [
        Scored(f"model {version}", p_model, metrics(p_model, y, as_of), float(accepted.mean())),
        Scored(rules, p_rules, metrics(p_rules, y, as_of)),
    ]
    importance = permutation_importance(
        lambda Z: model.predict_proba(Z)[:, 1], X, y, tuple(FEATURE_NAMES)
    )
    notes = []
    if float(accepted.mean()) < 1.0:
        notes.append(
            f"{1 - accepted.mean():.2%} of holdout rows fell outside what the model saw and "
            "were scored by the heuristic, as in serving"
        )
    return Evaluation(version, meta, y, as_of, scored, importance, notes)


# ---------------------------------------------------------------- plots


def _color(name: str) -> str | None:
    return _COLORS["heuristic"] if name.startswith("heuristic") else None


def reliability_figure(scored: list[Scored], y: np.ndarray) -> Figure:
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    top = 0.05
    for s in scored:
        table = reliability(s.p, y)
        ax.plot(table["mean_p"], table["rate"], marker="o", label=s.name, color=_color(s.name))
        top = max(top, float(table["mean_p"].max()), float(table["rate"].max()))
    ax.set_xlim(0, min(1.0, top * 1.1))
    ax.set_ylim(0, min(1.0, top * 1.1))
    ax.set_xlabel("predicted probability (bin mean, 15 bins)")
    ax.set_ylabel("observed close rate")
    ax.set_title("Reliability")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def capture_figure(scored: list[Scored], y: np.ndarray, as_of: np.ndarray) -> Figure:
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random order")
    for s in scored:
        shares, caught = capture_curve(s.p, y, as_of)
        ax.plot(shares, caught, label=s.name, color=_color(s.name))
    ax.axvline(0.1, color="grey", linewidth=0.8)
    ax.set_xlabel("share of customers contacted (top-ranked, per as-of date)")
    ax.set_ylabel("share of next-horizon closes caught")
    ax.set_title("Capture (cumulative gains)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def distribution_figure(scored: list[Scored], y: np.ndarray) -> Figure:
    fig = Figure(figsize=(5.5, 2.4 * len(scored)))
    for i, s in enumerate(scored, start=1):
        ax = fig.add_subplot(len(scored), 1, i)
        bins = np.linspace(0, 1, 51).tolist()
        ax.hist(s.p[y == 0], bins=bins, alpha=0.6, density=True, label="no close")
        ax.hist(s.p[y == 1], bins=bins, alpha=0.6, density=True, label="closed")
        ax.set_yscale("log")
        ax.set_title(f"Score distribution: {s.name}", fontsize=9)
        ax.legend(fontsize=8)
    fig.axes[-1].set_xlabel("p_close")
    fig.tight_layout()
    return fig


def importance_figure(importance: pd.Series, top: int = 15) -> Figure:
    shown = importance.head(top)[::-1]
    fig = Figure(figsize=(6.5, 0.3 * len(shown) + 1.2))
    ax = fig.add_subplot()
    ax.barh(list(shown.index), shown.to_numpy())
    ax.set_xlabel("drop in ROC AUC when the feature is shuffled")
    ax.set_title("Feature importance (permutation, holdout)")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def png_base64(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# ---------------------------------------------------------------- HTML


def metrics_frame(scored: list[Scored]) -> pd.DataFrame:
    rows = []
    for s in scored:
        row: dict[str, Any] = {"scorer": s.name, **s.metrics.to_dict()}
        row["coverage"] = s.coverage
        rows.append(row)
    return pd.DataFrame(rows)


def _date(ts: int) -> str:
    return f"{to_datetime(int(ts)):%Y-%m-%d}"


def render_html(evaluation: Evaluation) -> str:
    e = evaluation
    meta = e.metadata
    table = metrics_frame(e.scored).to_html(index=False, float_format=lambda v: f"{v:.4f}")
    docs = dict(FEATURES)
    top = e.importance.head(10)
    importance_rows = "".join(
        f"<tr><td>{html.escape(str(n))}</td><td>{v:.4f}</td>"
        f"<td>{html.escape(docs.get(str(n), ''))}</td></tr>"
        for n, v in top.items()
    )
    figures = [
        reliability_figure(e.scored, e.y),
        capture_figure(e.scored, e.y, e.as_of),
        distribution_figure(e.scored, e.y),
        importance_figure(e.importance),
    ]
    images = "".join(
        f'<img alt="plot" src="data:image/png;base64,{png_base64(f)}">' for f in figures
    )
    training = meta.get("training", {})
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in e.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>closecast evaluation: {html.escape(e.version)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
img {{ max-width: 48%; margin: 0.5em; vertical-align: top; }}
</style></head><body>
<h1>Model {html.escape(e.version)} ({html.escape(str(meta.get("kind", "")))}) vs the heuristic</h1>
<p>Holdout: {len(e.y):,} customer snapshots at {len(np.unique(e.as_of))} as-of dates from
{_date(e.as_of.min())} to {_date(e.as_of.max())}, {int(e.y.sum()):,} of them followed by an
order within {training.get("horizon_days", "?")} days. Trained on snapshots from
{html.escape(str(training.get("first_as_of", "?")))} to
{html.escape(str(training.get("last_as_of", "?")))} ({training.get("rows", "?")} rows);
data fingerprint {html.escape(str(meta.get("data", {}).get("fingerprint", "?"))[:16])}.</p>
<p>capture_10: share of the closes found in the top-ranked tenth of each date's customers
(pooled over dates). ece: expected calibration error over 15 equal-width bins.
coverage: share of rows the model accepted (the heuristic scored the rest).</p>
{table}
<ul>{notes}</ul>
<h2>Plots</h2>
{images}
<h2>Most important features</h2>
<table><tr><th>feature</th><th>AUC drop</th><th>meaning</th></tr>{importance_rows}</table>
</body></html>
"""
