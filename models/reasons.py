"""Reasons: the largest signed contributions to a score, in plain words.

Both the heuristic and the trained model explain a score as additive contributions to
its log-odds (a `Term` per rule or feature); this module turns the biggest of them into
sentences such as "+ clear order need identified". One implementation for both, so a rep
reads reasons of the same shape whichever produced the score.

`explain` must keep up with scoring a million customers in seconds, so it works a term at
a time rather than a row at a time: it keeps each row's `top` largest contributions with
array operations, then renders each template once per distinct value of the fields it
names (a count like "14 effective contacts" repeats across thousands of rows).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from string import Formatter
from typing import Final

import numpy as np
import pandas as pd

from features.customer import FEATURE_NAMES, INDEX
from streams.core.collector import collector_paused

_TIER_NAMES: Final = ("standard", "key", "vvip")
_STAGE_NAMES: Final = ("no portrait", "doctor", "teacher", "friend", "brother")
_SIZE_NAMES: Final = ("unknown-size", "small", "medium", "large")
# Contributions smaller than this (in log-odds) are not worth a rep's attention.
MIN_EFFECT: Final = 0.1


@dataclass(frozen=True)
class Term:
    """One additive contribution to the log-odds, with the sentence that explains it.

    A term whose wording depends on the row ("no quote sent yet" / "a quote is waiting")
    gives `variants` and, per row, the index of its variant in `choice`; otherwise every
    row uses `template`.
    """

    name: str
    values: np.ndarray
    template: str
    variants: tuple[str, ...] = ()
    choice: np.ndarray | None = None

    def template_of(self, i: int) -> str:
        return self.template if self.choice is None else self.variants[int(self.choice[i])]


def _name(names: tuple[str, ...]) -> Callable[[float], str]:
    # A row the model declined for garbage (a tier of 9) is still explained by the
    # fallback: an unknown category is named so, never an IndexError.
    return lambda v: names[int(v)] if 0 <= v < len(names) else "unknown"


# Template fields beyond the features themselves, each computed from one feature's value.
DERIVED: Final[dict[str, tuple[str, Callable[[float], object]]]] = {
    "stage_name": ("stage", _name(_STAGE_NAMES)),
    "tier_name": ("tier", _name(_TIER_NAMES)),
    "size_name": ("size", _name(_SIZE_NAMES)),
    "dormant_note": ("dormant", lambda v: ", dormant: win back" if v else ""),
    "need_value": ("need_value_log", math.expm1),
    "order_value": ("order_value_log", math.expm1),
    "potential_value": ("potential_value_log", math.expm1),
}


def template_fields(template: str) -> list[str]:
    """The field names a template uses (features or `DERIVED` names)."""
    return [field for _, field, _, _ in Formatter().parse(template) if field is not None]


def _context(row: np.ndarray) -> dict[str, object]:
    ctx: dict[str, object] = dict(zip(FEATURE_NAMES, row.tolist(), strict=True))
    for name, (source, derive) in DERIVED.items():
        ctx[name] = derive(ctx[source])  # type: ignore[arg-type]
    return ctx


def explain_row(row: np.ndarray, terms: list[Term], i: int, top: int = 3) -> list[str]:
    """The reasons of one row, the plain way (`explain` gives the same, faster)."""
    values = np.array([float(t.values[i]) for t in terms])
    order = np.argsort(-np.abs(values), kind="stable")[:top]
    lines: list[str] = []
    ctx = _context(row)
    for j in order:
        if not abs(values[j]) >= MIN_EFFECT:
            break
        sign = "+" if values[j] > 0 else "-"
        lines.append(f"{sign} {terms[j].template_of(i).format(**ctx)}")
    return lines


def _top(terms: list[Term], n: int, k: int, chunk: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the indices and values of the k largest |contributions|, largest first.

    Ties keep the earlier term first (a stable sort). Contributions under MIN_EFFECT (and
    NaN) are never kept (index -1), since they would never be shown. Rows go in chunks so
    the (rows x terms) matrix stays small whatever the number of customers.
    """
    best_i = np.empty((n, k), dtype=np.int32)
    best_v = np.empty((n, k))
    columns = [np.broadcast_to(np.asarray(t.values, dtype=float), (n,)) for t in terms]
    for start in range(0, n, chunk):
        matrix = np.column_stack([c[start : start + chunk] for c in columns])
        size = np.abs(matrix)
        size[~(size >= MIN_EFFECT)] = -1.0
        order = np.argsort(-size, axis=1, kind="stable")[:, :k]
        kept = np.take_along_axis(size, order, axis=1) >= 0
        best_i[start : start + chunk] = np.where(kept, order, -1)
        best_v[start : start + chunk] = np.take_along_axis(matrix, order, axis=1)
    return best_i, best_v


def _codes(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense integer codes of a column's values, and how many there are. Hashing (pandas)
    rather than sorting (np.unique): a million rows in a few milliseconds."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return codes.astype(np.int64), len(uniques)


def _combine(a: np.ndarray, b: np.ndarray, b_count: int) -> tuple[np.ndarray, int]:
    return _codes(a * b_count + b)


def _render_term(term: Term, X: np.ndarray, rows: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """'+ reason' / '- reason' for each of `rows`, as an object array of str.

    Rows with the same sign, variant and values of the fields the template names read
    the same, so each distinct line is formatted once and shared: of a million customers'
    lines only tens of thousands differ.
    """
    keys, count = _codes(positive.astype(np.int64))
    if term.choice is not None:
        keys, count = _combine(keys, term.choice[rows].astype(np.int64), len(term.variants))
    templates = term.variants if term.choice is not None else (term.template,)
    fields = sorted({f for t in templates for f in template_fields(t)})
    sources = sorted({DERIVED[f][0] if f in DERIVED else f for f in fields})
    for source in sources:
        codes, n = _codes(X[rows, INDEX[source]])
        keys, count = _combine(keys, codes, n)
    # Any row of a group stands for all of it (they format identically).
    example = np.empty(count, dtype=np.int64)
    example[keys] = np.arange(rows.size)
    lines = np.empty(count, dtype=object)
    for k, i in enumerate(example.tolist()):
        row = rows[i]
        ctx: dict[str, object] = {}
        for field in fields:
            source, derive = DERIVED.get(field, (field, None))
            value = float(X[row, INDEX[source]])
            ctx[field] = derive(value) if derive is not None else value
        sign = "+" if positive[i] else "-"
        lines[k] = f"{sign} {term.template_of(int(row)).format(**ctx)}"
    return lines[keys]


def explain(X: np.ndarray, terms: list[Term], top: int = 3) -> list[list[str]]:
    """For each row, the `top` largest contributions as '+ reason' / '- reason' lines."""
    n = X.shape[0]
    if n == 0:
        return []
    k = min(top, len(terms))
    if k == 0:
        return [[] for _ in range(n)]
    best_i, best_v = _top(terms, n, k)
    ranks = [np.full(n, None, dtype=object) for _ in range(k)]
    for j, term in enumerate(terms):
        where_row, where_rank = np.nonzero(best_i == j)
        if where_row.size == 0:
            continue
        lines = _render_term(term, X, where_row, best_v[where_row, where_rank] > 0)
        for r in range(k):
            at = where_rank == r
            ranks[r][where_row[at]] = lines[at]
    # Ranks fill from the first, so a row's lines are its leading cells.
    counts = (best_i >= 0).sum(axis=1).tolist()
    cells = zip(*(r.tolist() for r in ranks), strict=True)
    # A million small lists of strings: no cycles, but the collector's passes over every
    # live object would cost ten times the building itself.
    with collector_paused():
        return [list(row[:c]) for row, c in zip(cells, counts, strict=True)]


# How a reason reads to a person: which way it pushes the chance, in words, without the
# stored form's sign and scorer suffix (the score's `source` says which scorer spoke).
UP: Final = "raises the chance"
DOWN: Final = "lowers the chance"
_SCORER_SUFFIXES: Final = (" (model)",)


def for_people(reason: str) -> str:
    """'+ 44 effective contacts (model)' -> 'raises the chance: 44 effective contacts'."""
    text = reason.strip()
    for suffix in _SCORER_SUFFIXES:
        text = text.removesuffix(suffix)
    if text[:2] == "+ ":
        return f"{UP}: {text[2:]}"
    if text[:2] == "- ":
        return f"{DOWN}: {text[2:]}"
    return text
