"""Dormant customers: no order for 90+ days, a lead source the company already owns.

Ranked by the chance and value of ordering again: the score's `predicted_value`, which is
p_close (an order within the horizon) times the expected order value (for a customer with
history, its average order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.policy import DEFAULT, Policy
from planning.book import Book
from streams.core.state import DAY_US

DORMANT_COLUMNS = (
    "customer_id",
    "owner",
    "days_since_order",
    "orders",
    "order_value",
    "p_close",
    "expected_value",
    "predicted_value",
    "score_source",
    "reasons",
)


def dormant_mask(book: Book, policy: Policy = DEFAULT) -> np.ndarray:
    """Customers whose last order is at least `dormant_days` before as_of (exactly at 90 counts)."""
    out = np.zeros(len(book), dtype=bool)
    has = book.has_order
    out[has] = book.as_of - book.last_order[has] >= policy.dormant_days * DAY_US
    return out


def dormant_table(book: Book, policy: Policy = DEFAULT) -> pd.DataFrame:
    rows = np.flatnonzero(dormant_mask(book, policy))
    rows = rows[np.lexsort((rows, -book.predicted_value[rows]))]
    return pd.DataFrame(
        {
            "customer_id": book.customer_id[rows],
            "owner": book.owner_label(rows),
            "days_since_order": np.floor(book.days_since(book.last_order[rows])).astype(int),
            "orders": book.orders[rows],
            "order_value": book.order_value[rows].round(2),
            "p_close": book.p_close[rows].round(4),
            "expected_value": book.expected_value[rows],
            "predicted_value": book.predicted_value[rows],
            "score_source": book.score_source[rows],
            "reasons": book.reasons[rows],
        },
        columns=list(DORMANT_COLUMNS),
    )
