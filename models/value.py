"""Expected order value: what a close would be worth, so managers can allocate by
`predicted_value = p_close × expected_value`.

The most specific evidence wins: the clear need's expected value, then the open quote,
then the customer's own order history (repeat business), then the lead's potential
(expected yearly spend, so a quarter of it per 90-day horizon), then a default by size.

Repeat business needs no separate model: the close label is "any `order_won` within the
horizon", first or repeat (contract, "What close means"), so for an existing customer
`p_close` *is* its chance to order again within the horizon, learned from the repeat
orders of customers like it (orders so far, days since the last one, `dormant`), and
`predicted_value = p_close x its average order` is the repeat business to expect. A
dormant customer (no order for 90+ days) is scored the same way: its `p_close` is the
chance it comes back, which is what the dormant list ranks by.
"""

from __future__ import annotations

from typing import Final

from streams.core.state import CustomerState

# Typical first-order values for a printing/packaging supplier, by company size (our
# defaults, in the log's currency): used only when the log says nothing better.
DEFAULT_BY_SIZE: Final = {None: 20_000.0, "small": 8_000.0, "medium": 25_000.0, "large": 80_000.0}


def expected_value(state: CustomerState, horizon_days: int = 90) -> tuple[float, str]:
    """The expected value of the next order and where that figure came from."""
    if state.clear_need and state.need_value:
        return state.need_value, "need"
    if state.quote_open and state.quote_amount:
        return state.quote_amount, "quote"
    if state.orders:
        return state.order_value / state.orders, "history"
    if state.potential_value:
        return state.potential_value * horizon_days / 365.0, "potential"
    return DEFAULT_BY_SIZE.get(state.size, DEFAULT_BY_SIZE[None]), "default"
