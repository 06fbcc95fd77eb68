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
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from features.customer import FEATURE_NAMES, feature_matrix
from streams.core.contract import to_datetime
from web.context import Caller, Services
from web.errors import forbidden

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


def models(svc: Services, who: Caller) -> dict[str, Any]:
    _require_analyst(who)
    scorer = svc.scorer
    return {
        "serving": {
            "name": scorer.name,
            "fallback_note": scorer.fallback_note,
        },
        "model_dir": str(svc.model_dir) if svc.model_dir else None,
        "models": registry_entries(svc.model_dir),
    }


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
            }
        )
    out.sort(key=lambda m: m["status"] != "current")  # stable: newest first otherwise
    return out


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
