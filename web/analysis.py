"""What an analyst sees: the models (current and candidates) and a pseudonymised data set.

The data set is one row per customer as of the ledger's clock: the features the model
reads (`features.customer.FEATURE_NAMES`), the current score, and ids replaced by keyed
pseudonyms. It holds no portrait value at all (the state has none, only section counts
and the stage), no free text (contact notes are not in the state), no names.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from features.customer import FEATURE_NAMES, feature_matrix
from streams.core.contract import to_datetime
from web.context import Caller, Services
from web.errors import HttpError, forbidden

DATASET_COLUMNS: Final = (
    "customer",
    "owner",
    "status",
    "as_of",
    *FEATURE_NAMES,
    "p_close",
    "score_source",
    "predicted_value",
)
_SLICE: Final = 500  # rows per slice: the event loop serves other requests in between


def _require_analyst(who: Caller) -> None:
    if who.user.role != "analyst":
        raise forbidden("analysts only")


def models(svc: Services, who: Caller, compare: tuple[str, str] | None = None) -> dict[str, Any]:
    _require_analyst(who)
    scorer = svc.scorer
    entries = registry_entries(svc.model_dir)
    out: dict[str, Any] = {
        "serving": {
            "name": scorer.name,
            "fallback_note": scorer.fallback_note,
        },
        "model_dir": str(svc.model_dir) if svc.model_dir else None,
        "models": entries,
        "comparison": None,
    }
    if compare is not None:
        out["comparison"] = comparison(entries, *compare)
    return out


def comparison(entries: list[dict[str, Any]], a: str, b: str) -> dict[str, Any]:
    """Two versions side by side: every metric either has, with the difference."""
    by_version = {e["version"]: e for e in entries}
    for version in (a, b):
        if version not in by_version:
            raise HttpError(404, f"no model version {version[:64]!r}", field="compare")
    left, right = by_version[a], by_version[b]
    names = list(dict.fromkeys([*left["metrics"], *right["metrics"]]))
    rows = []
    for name in names:
        x, y = left["metrics"].get(name), right["metrics"].get(name)
        both = isinstance(x, float) and isinstance(y, float)
        rows.append({"metric": name, "a": x, "b": y, "difference": (y - x) if both else None})
    return {"a": left, "b": right, "rows": rows}


# ---------------------------------------------------------------- backtests and curves
#
# The metadata's evaluation is read defensively: a walk-forward backtest may hold one
# entry per origin with its metrics and curves, an older model only flat metrics. Each
# shape found is shown; anything else is ignored, never an error on the page.

_X_KEYS: Final = ("fpr", "predicted", "mean_predicted", "p_mean", "mean_p", "p", "share", "x")
_Y_KEYS: Final = ("tpr", "observed", "observed_rate", "rate", "caught", "captured", "y")
_CURVE_NAMES: Final = {
    "roc": ("roc", "roc_curve"),
    "calibration": ("calibration", "reliability", "reliability_curve", "calibration_curve"),
    "capture": ("capture", "capture_curve", "lift"),
}


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(float(value)) else None
    return None


def points_of(raw: object) -> list[tuple[float, float]]:
    """A curve's points from the shapes metadata uses: [[x, y], ...], [{fpr:, tpr:}, ...]
    or {"fpr": [...], "tpr": [...]}; [] for anything else."""
    pts: list[tuple[float, float]] = []
    if isinstance(raw, dict):
        xs = next((raw[k] for k in _X_KEYS if isinstance(raw.get(k), list)), None)
        ys = next((raw[k] for k in _Y_KEYS if isinstance(raw.get(k), list)), None)
        if xs is not None and ys is not None:
            raw = [[x, y] for x, y in zip(xs, ys, strict=False)]
        else:
            return []
    if not isinstance(raw, list):
        return []
    for item in raw[:2000]:
        if isinstance(item, list | tuple) and len(item) >= 2:
            x, y = _number(item[0]), _number(item[1])
        elif isinstance(item, dict):
            x = next((_number(item[k]) for k in _X_KEYS if k in item), None)
            y = next((_number(item[k]) for k in _Y_KEYS if k in item), None)
        else:
            continue
        if x is not None and y is not None:
            pts.append((x, y))
    return sorted(pts)


def _curves_in(holder: object) -> dict[str, list[tuple[float, float]]]:
    found: dict[str, list[tuple[float, float]]] = {}
    if not isinstance(holder, dict):
        return found
    pools = [holder, holder.get("curves"), holder.get("plots")]
    for kind, names in _CURVE_NAMES.items():
        for pool in pools:
            if not isinstance(pool, dict):
                continue
            for name in names:
                pts = points_of(pool.get(name))
                if pts:
                    found[kind] = pts
                    break
            if kind in found:
                break
    return found


def backtest_of(meta: dict[str, Any]) -> dict[str, Any]:
    """Per-origin metrics and the curves (per origin when the backtest has them)."""
    test = meta.get("backtest") or meta.get("walk_forward") or meta.get("evaluation")
    origins: list[dict[str, Any]] = []
    curves: dict[str, dict[str, list[tuple[float, float]]]] = {}
    raw = test.get("origins") or test.get("folds") if isinstance(test, dict) else test
    if isinstance(raw, list):
        for k, item in enumerate(raw[:60]):
            if not isinstance(item, dict):
                continue
            label = str(item.get("origin") or item.get("as_of") or item.get("name") or k + 1)
            origins.append({"origin": label, **_flat(item.get("metrics", item))})
            for kind, pts in _curves_in(item).items():
                curves.setdefault(kind, {})[label] = pts
    for kind, pts in _curves_in(test).items():
        curves.setdefault(kind, {})["all origins"] = pts
    for kind, pts in _curves_in(meta).items():
        curves.setdefault(kind, {}).setdefault("holdout", pts)
    return {"origins": origins, "curves": curves}


def registry_entries(model_dir: Path | None) -> list[dict[str, Any]]:
    """Every registered model's metadata (`models.registry`), the current one first."""
    from models.registry import Registry, RegistryError

    if model_dir is None or not model_dir.is_dir():
        return []
    registry = Registry(model_dir)
    current = registry.current()
    out: list[dict[str, Any]] = []
    for version in reversed(registry.versions()):  # newest first
        try:
            meta = registry.metadata(version)
        except RegistryError as exc:
            out.append({"version": version, "status": "unreadable", "note": str(exc)})
            continue
        decision = meta.get("decision") or {}
        out.append(
            {
                "version": version,
                "status": "current" if version == current else "candidate",
                "created": meta.get("created_at"),
                "kind": meta.get("kind"),
                "metrics": _flat(meta.get("metrics")),
                "heuristic_metrics": _flat(meta.get("heuristic_metrics")),
                "training_window": meta.get("training_window"),
                "promoted": decision.get("promoted") if isinstance(decision, dict) else None,
                "note": meta.get("note"),
                **backtest_of(meta),
            }
        )
    out.sort(key=lambda m: m["status"] != "current")  # stable: newest first otherwise
    return out


def change_model(svc: Services, who: Caller, action: str, version: str = "") -> str:
    """Promote a version or roll back, as an analyst, recorded in the audit log first."""
    from models.registry import Registry, RegistryError

    _require_analyst(who)
    if svc.model_dir is None:
        raise HttpError(409, "the server has no model registry (--model-dir)")
    registry = Registry(svc.model_dir)
    before = registry.current() or "heuristic"
    try:
        if action == "promote":
            if not version:
                raise HttpError(400, "version: say which version to promote", field="version")
            registry.promote(version)
            after = version
        else:
            after = registry.rollback() or "heuristic"
    except RegistryError as exc:
        svc.audit.record(
            user=who.user.id,
            role=who.user.role,
            action=f"model_{action}",
            customer_id="",
            sections=[],
            outcome="refused",
            reason=str(exc)[:200],
            request_id=who.request_id,
        )
        raise HttpError(409, str(exc)) from None
    svc.audit.record(
        user=who.user.id,
        role=who.user.role,
        action=f"model_{action}",
        customer_id="",
        sections=[],
        outcome="done",
        reason=f"{before} -> {after}",
        request_id=who.request_id,
    )
    return after


def _flat(metrics: object) -> dict[str, float | str]:
    if not isinstance(metrics, dict):
        return {}
    out: dict[str, float | str] = {}
    for key, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[str(key)] = round(float(value), 4)
        elif isinstance(value, str):
            out[str(key)] = value
    return out


async def dataset_csv(svc: Services, who: Caller) -> AsyncIterator[bytes]:
    """The data set as CSV, in slices (100,000 customers never block the server)."""
    _require_analyst(who)
    ledger = svc.ledger
    as_of = ledger.as_of
    when = to_datetime(as_of).isoformat() if as_of else ""
    pseudo = svc.pseudonymise
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(DATASET_COLUMNS)
    yield buffer.getvalue().encode()
    ids = sorted(ledger.customers)
    for start in range(0, len(ids), _SLICE):
        states = [ledger.customers[c] for c in ids[start : start + _SLICE] if c in ledger.customers]
        X = feature_matrix(states, ledger.reps, as_of, svc.policy)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for state, row in zip(states, X.tolist(), strict=True):
            score = ledger.scores.get(state.customer_id)
            writer.writerow(
                (
                    pseudo("customer", state.customer_id),
                    pseudo("rep", state.owner),
                    state.status,
                    when,
                    *(round(v, 6) for v in row),
                    "" if score is None else round(score.p_close, 6),
                    "" if score is None else score.source,
                    "" if score is None else score.predicted_value,
                )
            )
        yield buffer.getvalue().encode()
        await asyncio.sleep(0)
