"""The CDNOW purchase history as contract events: real customers, orders only.

23,570 customers who first bought from the CD retailer CDNOW in the first quarter of 1997,
with every purchase to the end of June 1998 (customer id, date YYYYMMDD, CDs, dollars).
The PyPI package Lifetimes ships it as `lifetimes/datasets/CDNOW_master.txt`; it is a dev
dependency for that file alone. The package is unmaintained, so it is located with
`importlib.util.find_spec` and never imported.

Each customer becomes a `lead_created` at the first purchase and an `order_won` per
purchase line (rep `r-cdnow`, who joins on the first day). The data has dates only: a
purchase is stamped at noon New York time, and a lead one minute before its first
order. A zero-dollar line (the contract's orders have amount > 0) is no order, but its
customer is still a lead.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path
from typing import Any

REP = "r-cdnow"
ZONE = "-05:00"


def data_file() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the CDNOW data ships with the PyPI package Lifetimes==0.11.3 (a dev "
            "dependency): run `make setup`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "CDNOW_master.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the CDNOW data file is missing from Lifetimes")
    return path


def _iso(day: str) -> str:
    return date(int(day[:4]), int(day[4:6]), int(day[6:8])).isoformat()


def cdnow_events(path: Path | None = None) -> list[dict[str, Any]]:
    rows = []
    for line in (path or data_file()).read_text().splitlines():
        parts = line.split()
        if len(parts) != 4 or not parts[0].isdigit():
            continue
        customer, day, _, dollars = parts
        rows.append((_iso(day), customer, float(dollars)))
    rows.sort()
    events: list[dict[str, Any]] = [
        {
            "event_id": "cdnow-rep",
            "type": "rep_joined",
            "occurred_at": f"{rows[0][0]}T08:00:00{ZONE}",
            "rep_id": REP,
            "payload": {"role": "rep"},
        }
    ]
    seen: set[str] = set()
    for n, (day, customer, amount) in enumerate(rows):
        cid = f"cdnow-{customer}"
        if cid not in seen:
            seen.add(cid)
            events.append(
                {
                    "event_id": f"cdnow-lead-{customer}",
                    "type": "lead_created",
                    "occurred_at": f"{day}T11:59:00{ZONE}",
                    "customer_id": cid,
                    "rep_id": REP,
                    "payload": {"source": "other"},
                }
            )
        if amount <= 0:
            continue
        events.append(
            {
                "event_id": f"cdnow-order-{n:06d}",
                "type": "order_won",
                "occurred_at": f"{day}T12:00:{n % 60:02d}{ZONE}",
                "customer_id": cid,
                "rep_id": REP,
                "payload": {"order_id": f"cdnow-{n:06d}", "amount": round(amount, 2)},
            }
        )
    return events
