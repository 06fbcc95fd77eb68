"""The exact assignment of customers to reps with capacities and reserved quotas.

Given values v[i, j] (what customer i is worth if rep j follows it up), capacities c[j],
reserved quotas q[j] <= c[j] and a mask of allowed pairs, choose x[i, j] in {0, 1} to

    maximise, lexicographically,
      1. the reserved slots filled:  sum_j min(q[j], sum_i x[i, j])
      2. the total value:            sum_ij v[i, j] x[i, j]
    subject to  sum_j x[i, j] <= 1   (a customer goes to at most one rep)
                sum_i x[i, j] <= c[j] (no rep beyond capacity)
                x[i, j] = 0 where the pair is not allowed.

So reserved quotas are filled whenever there are customers enough, and within that the
value is as large as it can be. It is solved exactly as one rectangular assignment problem
(`scipy.optimize.linear_sum_assignment`): rep j becomes c[j] slot columns, its first q[j]
slots carry a bonus larger than any possible total value, and every customer has its own
zero-valued "stays in the pool" column, so leaving a customer unassigned is a choice the
solver weighs rather than a side effect of the matrix's shape.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def solve(
    values: np.ndarray,
    capacity: np.ndarray,
    quota: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """For each customer (row of `values`), the rep index it goes to, or -1.

    Values must be finite and >= 0.
    """
    values = np.asarray(values, dtype=float)
    n, m = values.shape
    capacity = np.maximum(np.asarray(capacity, dtype=np.int64), 0)
    reserved = np.zeros(m, np.int64) if quota is None else np.asarray(quota, dtype=np.int64)
    reserved = np.clip(reserved, 0, capacity)
    if allowed is None:
        allowed = np.ones((n, m), dtype=bool)
    if values.size and (not np.isfinite(values).all() or values.min() < 0):
        raise ValueError("values must be finite and >= 0")
    out = np.full(n, -1, dtype=np.int64)
    slots = int(capacity.sum())
    if n == 0 or slots == 0:
        return out
    # Scaled to [0, 1], every total value is at most n, so a reserved slot's bonus of
    # n + 1 outweighs any difference in value, and a forbidden pair's penalty outweighs
    # every bonus together; the scaled numbers stay small enough for exact-enough floats.
    top = values.max()
    scaled = values / top if top > 0 else values
    bonus = float(n + 1)
    forbidden = -bonus * (slots + 1) - 1.0
    slot_rep = np.repeat(np.arange(m), capacity)
    first_slot = np.r_[0, np.cumsum(capacity)[:-1]]
    slot_reserved = (np.arange(slots) - first_slot[slot_rep]) < reserved[slot_rep]
    weight = np.where(allowed[:, slot_rep], scaled[:, slot_rep], forbidden)
    weight = weight + np.where(slot_reserved, bonus, 0.0)
    stay = np.full((n, n), forbidden)
    np.fill_diagonal(stay, 0.0)
    rows, cols = linear_sum_assignment(np.hstack([weight, stay]), maximize=True)
    placed = cols < slots
    out[rows[placed]] = slot_rep[cols[placed]]
    return out


def objective(
    assigned: np.ndarray, values: np.ndarray, quota: np.ndarray | None = None
) -> tuple[int, float]:
    """(reserved slots filled, total value) of an assignment: what `solve` maximises."""
    values = np.asarray(values, dtype=float)
    m = values.shape[1]
    load = np.bincount(assigned[assigned >= 0], minlength=m)
    reserved = np.zeros(m, np.int64) if quota is None else np.asarray(quota)
    filled = int(np.minimum(load, reserved).sum())
    rows = np.flatnonzero(assigned >= 0)
    return filled, float(values[rows, assigned[rows]].sum())
