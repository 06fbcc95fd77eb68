"""Small event logs for the planning tests: events by day offset, books with chosen scores."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root

from features.policy import Policy
from models.scoring import Scorer, score_snapshot
from planning.book import Book, build_book
from planning.book import iso_time as iso
from streams.core.contract import REP_EVENT_TYPES, Event, validate
from streams.core.snapshot import Snapshot
from streams.core.state import DAY_US
from streams.embedded.replay import replay_events

T0 = 1_767_603_600_000_000  # 2026-01-05T09:00:00Z: the tests' as-of
DAY = DAY_US
_ids = itertools.count()


def ev(
    kind: str,
    at: int = 0,
    customer: str = "c1",
    rep: str | None = "r1",
    eid: str | None = None,
    **payload: Any,
) -> Event:
    """A validated event at `T0 + at` microseconds (negative: before as-of)."""
    obj: dict[str, Any] = {
        "event_id": eid or f"t{next(_ids):07d}",
        "type": kind,
        "occurred_at": iso(T0 + at),
        "rep_id": rep,
        "payload": payload,
    }
    if kind not in REP_EVENT_TYPES:
        obj["customer_id"] = customer
    return validate(obj)


def joined(rep: str, days_ago: float = 400, role: str = "rep", team: str = "east") -> Event:
    return ev("rep_joined", -int(days_ago * DAY), rep=rep, role=role, team=team)


def lead(customer: str, rep: str | None = "r1", days_ago: float = 300, **kw: Any) -> Event:
    kw.setdefault("source", "referral")
    return ev("lead_created", -int(days_ago * DAY), customer, rep, **kw)


def contacts(
    customer: str,
    n: int,
    rep: str = "r1",
    last_days_ago: float = 30,
    every_days: float = 20,
    effective: bool = True,
) -> list[Event]:
    """`n` follow-ups, the newest `last_days_ago` before as-of, `every_days` apart."""
    return [
        ev(
            "contact_made",
            -int((last_days_ago + k * every_days) * DAY),
            customer,
            rep,
            channel="phone",
            effective=effective,
        )
        for k in range(n)
    ]


def customer_events(
    customer: str, rep: str = "r1", n: int = 3, last_days_ago: float = 30, **kw: Any
) -> list[Event]:
    """A lead of `rep` with `n` effective follow-ups (`every_days` apart, default 5)."""
    every = kw.pop("every_days", 5.0)
    return [lead(customer, rep, **kw), *contacts(customer, n, rep, last_days_ago, every)]


def snapshot(events: Iterable[Event], as_of: int = T0) -> Snapshot:
    return replay_events(list(events), as_of)


def book(
    events: Iterable[Event],
    as_of: int = T0,
    p_close: Mapping[str, float] | None = None,
    value: Mapping[str, float] | None = None,
    policy: Policy | None = None,
) -> tuple[Book, Snapshot]:
    """Fold, score with the heuristic, then pin chosen customers' p_close / predicted value."""
    snap = snapshot(events, as_of)
    scores = score_snapshot(snap, Scorer(None), policy or Policy())
    for column, chosen in (("p_close", p_close), ("predicted_value", value)):
        for customer, number in (chosen or {}).items():
            scores.loc[scores["customer_id"] == customer, column] = number
    return build_book(snap.customers, snap.reps, scores, snap.as_of), snap
