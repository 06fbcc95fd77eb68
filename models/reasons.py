"""Reasons: the largest signed contributions to a score, in plain words.

Both the heuristic and the trained model explain a score as additive contributions to
its log-odds (a `Term` per rule or feature); this module turns the biggest of them into
sentences such as "+ clear order need identified". One implementation for both, so a rep
reads reasons of the same shape whichever produced the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from features.customer import FEATURE_NAMES

_TIER_NAMES: Final = ("standard", "key", "vvip")
_STAGE_NAMES: Final = ("no portrait", "doctor", "teacher", "friend", "brother")
# Contributions smaller than this (in log-odds) are not worth a rep's attention.
MIN_EFFECT: Final = 0.1


@dataclass(frozen=True)
class Term:
    """One additive contribution to the log-odds, with the sentence that explains it."""

    name: str
    values: np.ndarray
    template: str


def _context(row: np.ndarray) -> dict[str, object]:
    ctx: dict[str, object] = dict(zip(FEATURE_NAMES, row.tolist(), strict=True))
    ctx["stage_name"] = _STAGE_NAMES[int(ctx["stage"])]  # type: ignore[call-overload]
    ctx["tier_name"] = _TIER_NAMES[int(ctx["tier"])]  # type: ignore[call-overload]
    ctx["dormant_note"] = ", dormant: win back" if ctx["dormant"] else ""
    return ctx


def explain(X: np.ndarray, terms: list[Term], top: int = 3) -> list[list[str]]:
    """For each row, the `top` largest contributions as '+ reason' / '- reason' lines."""
    if X.shape[0] == 0:
        return []
    matrix = np.column_stack([t.values for t in terms])
    order = np.argsort(-np.abs(matrix), axis=1)[:, :top]
    out: list[list[str]] = []
    for i in range(X.shape[0]):
        ctx: dict[str, object] | None = None
        lines = []
        for j in order[i]:
            value = matrix[i, j]
            if abs(value) < MIN_EFFECT:
                break
            if ctx is None:
                ctx = _context(X[i])
            sign = "+" if value > 0 else "-"
            lines.append(f"{sign} {terms[j].template.format(**ctx)}")
        out.append(lines)
    return out
