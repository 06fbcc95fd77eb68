"""The ledger: the web layer's in-process read model of every customer.

Both state sources (`web.source`) feed it the same contract events; it folds them with
the same code the replay and the worker use (`streams.embedded.replay.Replayer`, whose fold is
`streams.core.fold`), keeps the portrait values in their own store (`streams.core.portrait`), a
short contact history per customer, the score of every customer, and an index of who
owns whom, so a rep's call list never scans 100,000 customers.

Scores: all customers are scored when the ledger is loaded; after that the customers an
event touches are re-scored at once (that is what makes a recorded contact show its new
score within a second), and `refresh()` re-scores everyone in small slices on the event
loop, so the features that move with the clock or with the rep's activity catch up
without a request ever waiting behind a full re-score. Single-threaded by design: every
change happens on the event loop, so no lock is needed and no reader sees half an event.

Trends: a second replayer (the baseline) folds only what is at least `TREND_DAYS` old;
the events of the last `TREND_DAYS` wait in a heap until the ledger's time moves past
them. When everyone is scored at load, the baseline is scored too, as of `TREND_DAYS`
before: each customer's earlier score, which a call list's trend compares with; the
background refresh scores it again, in slices, once the clock has moved on by a day.
Holding a month of events costs far less than keeping every customer's history.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from features.customer import owner_active
from features.policy import DEFAULT, Policy
from models.scoring import SCORE_COLUMNS, Scorer, score_states
from streams.core.contract import SENSITIVE_SECTIONS, Event
from streams.core.deadletter import Rejection
from streams.core.held import held_item, is_ahead
from streams.core.held import wall_clock as wall_clock
from streams.core.portrait import Portrait, PortraitStore
from streams.core.snapshot import Snapshot
from streams.core.state import DAY_US, CustomerState, RepState
from streams.embedded.replay import Replayer

HISTORY_LIMIT: Final = 100
REFRESH_SLICE: Final = 100  # customers re-scored per slice: ~10 ms of features
TREND_DAYS: Final = 30  # planning.calllist.TREND_DAYS: the call list's trend window


@dataclass(frozen=True, slots=True)
class ScoreRow:
    p_close: float
    source: str
    expected_value: float
    value_basis: str
    predicted_value: float
    reasons: tuple[str, ...]
    as_of: int
    expected_orders: float = 0.0
    expected_revenue: float = 0.0
    revenue_basis: str = "fallback"

    def to_dict(self) -> dict[str, Any]:
        return {
            "p_close": round(self.p_close, 4),
            "source": self.source,
            "expected_value": self.expected_value,
            "value_basis": self.value_basis,
            "expected_orders": self.expected_orders,
            "expected_revenue": self.expected_revenue,
            "revenue_basis": self.revenue_basis,
            "predicted_value": self.predicted_value,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One event of a customer as the history shows it: never a sensitive value."""

    ts: int
    event_id: str
    occurred_at: str
    type: str
    rep_id: str | None
    details: tuple[tuple[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "type": self.type,
            "rep_id": self.rep_id,
            "details": dict(self.details),
        }


def history_item(event: Event) -> HistoryItem:
    p = event.payload
    details: dict[str, Any]
    if event.type == "portrait_updated":
        section = p["section"]
        # Names of plain fields only; a sensitive section shows that it changed, no more.
        details = {"section": section}
        if section in SENSITIVE_SECTIONS:
            details["fields"] = f"{len(p['fields'])} field(s), restricted"
        else:
            details["fields"] = sorted(p["fields"])
    else:
        # Free-text notes are as sensitive as a deep section: the history says one was
        # written, the text is read through the audited sensitive view only.
        details = {
            k: ("restricted" if k == "note" else v)
            for k, v in p.items()
            if isinstance(v, str | int | float | bool)
        }
    return HistoryItem(
        event.ts,
        event.event_id,
        event.occurred_at,
        event.type,
        event.rep_id,
        tuple(sorted(details.items())),
    )


class Ledger:
    def __init__(
        self, scorer: Scorer, policy: Policy = DEFAULT, clock: Callable[[], int] | None = None
    ) -> None:
        self.scorer = scorer
        # None: the ledger's time is the log's own clock, the newest event folded (a
        # replayed or simulated log reads as of its own end). A clock: time is the clock's
        # "now", never an event's claimed time (contract, "Time and the clock").
        self.clock = clock
        self.policy = policy
        # Events ahead of the wall clock are held by the replayer (streams.core.held) either
        # way: the log's clock must not follow a claimed future time either.
        self.wall = wall_clock
        self.replayer = Replayer(now=self.wall())
        # Customers ever VVIP: their sensitive sections stay restricted to the
        # need-to-know list however the tier changes later (web.access).
        self.ever_vvip: set[str] = set()
        # Free-text notes per customer (newest last), read only through the audited view.
        self._notes: dict[str, list[dict[str, Any]]] = {}
        # customer_assigned events per (assigner, UTC day): the claim limit's count,
        # folded from the log so a restart does not reset it.
        self.assigned_by_day: dict[tuple[str, int], int] = {}
        self.portraits = PortraitStore()
        self.rejected: list[Rejection] = []
        self._history: dict[str, list[HistoryItem]] = {}
        self.scores: dict[str, ScoreRow] = {}
        self._owned: dict[str, set[str]] = {}
        # Versions: `version` moves with every change; a rep's list is fresh while its
        # version equals max(rep version, refresh version).
        self.version = 0
        self._rep_versions: dict[str, int] = {}
        self.refreshed_version = 0
        self.refreshed_as_of = 0
        self.refreshing = False
        self._baseline = Replayer()
        self._waiting: list[tuple[int, int, Event]] = []  # (occurred_at, arrival, event)
        self._arrivals = 0
        # Each customer's p_close TREND_DAYS before the time of the last full scoring.
        self.earlier: dict[str, float] = {}
        self.earlier_as_of = 0

    # ------------------------------------------------------------ reading

    @property
    def customers(self) -> Mapping[str, CustomerState]:
        return self.replayer.customers

    @property
    def reps(self) -> Mapping[str, RepState]:
        return self.replayer.reps

    @property
    def as_of(self) -> int:
        """The ledger's time: the clock's, or without one the log's own (newest folded)."""
        return self.replayer.latest if self.clock is None else self.clock()

    def is_ahead(self, ts: int) -> bool:
        """Whether an event at `ts` would be held (beyond the skew ahead of the clock)."""
        return is_ahead(ts, self.wall(), self.replayer.skew)

    def held(self) -> dict[str, Any]:
        """The held events: a count and a list (ids and times only)."""
        events = self.replayer.hold.events
        return {"count": len(events), "events": [held_item(e) for e in events[:200]]}

    def notes(self, customer_id: str) -> list[dict[str, Any]]:
        """Newest first."""
        return list(reversed(self._notes.get(customer_id, [])))

    def claims_on(self, user_id: str, ts: int) -> int:
        return self.assigned_by_day.get((user_id, ts // DAY_US), 0)

    def stale(self, after_us: int) -> bool:
        """Whether a full re-score is due: something changed, or the clock moved on."""
        if self.version != self.refreshed_version:
            return True
        return self.as_of - self.refreshed_as_of >= after_us

    def snapshot(self, as_of: int | None = None) -> Snapshot:
        return Snapshot(
            self.replayer.customers,
            self.replayer.reps,
            self.as_of if as_of is None else as_of,
            self.replayer.stats,
        )

    def customer(self, customer_id: str) -> CustomerState | None:
        return self.replayer.customers.get(customer_id)

    def portrait(self, customer_id: str) -> Portrait | None:
        return self.portraits.get(customer_id)

    def history(self, customer_id: str) -> list[HistoryItem]:
        """Newest first."""
        return list(reversed(self._history.get(customer_id, [])))

    def owned_by(self, rep_id: str) -> list[CustomerState]:
        """The customers a rep owns and follows up (none once the rep has left)."""
        rep = self.replayer.reps.get(rep_id)
        if rep is not None and not rep.active:
            return []
        states = self.replayer.customers
        return [
            states[cid]
            for cid in sorted(self._owned.get(rep_id, ()))
            if states[cid].status != "suspended"
        ]

    def in_pool(self, state: CustomerState) -> bool:
        return not owner_active(state, self.replayer.reps)

    def rep_version(self, rep_id: str) -> int:
        return max(self._rep_versions.get(rep_id, 0), self.refreshed_version)

    # ------------------------------------------------------------ folding

    def feed(self, event: Event) -> set[str]:
        """Fold one event; return the customers whose state changed (for re-scoring)."""
        return self._feed(event, self.replayer.feed)

    def release(self) -> set[str]:
        """Fold the held events whose time has come; return the customers they changed."""
        touched: set[str] = set()
        for event in self.replayer.due(self.wall()):
            touched |= self._feed(event, self.replayer.fold)
        return touched

    def _feed(self, event: Event, fold: Callable[[Event], bool]) -> set[str]:
        cid = event.customer_id
        touched: set[str] = set()
        before = None
        if cid is not None and event.type not in ("rep_joined", "rep_left"):
            state = self.replayer.customers.get(cid)
            before = state.owner if state is not None else None
        if not fold(event):
            return touched  # a duplicate, or held: changes nothing
        self._arrivals += 1
        heapq.heappush(self._waiting, (event.ts, self._arrivals, event))
        self._settle(self.replayer.latest - TREND_DAYS * DAY_US)
        self.portraits.feed(event)
        self._index(event)
        if cid is not None and event.type not in ("rep_joined", "rep_left"):
            touched.add(cid)
            self._remember(cid, event)
            after = self.replayer.customers[cid].owner
            if after != before:
                if before is not None:
                    self._owned.get(before, set()).discard(cid)
                    self._touch_rep(before)
                if after is not None:
                    self._owned.setdefault(after, set()).add(cid)
            if after is not None:
                self._touch_rep(after)
        if event.rep_id is not None:
            # Joining or leaving changes whose customers are in the pool; any rep event
            # may change the rep features of their customers' scores.
            self._touch_rep(event.rep_id)
        self.version += 1
        return touched

    def reject(self, rejection: Rejection) -> None:
        self.replayer.reject(rejection)

    def _index(self, event: Event) -> None:
        cid = event.customer_id
        if cid is None:
            return
        state = self.replayer.customers.get(cid)
        if state is not None and state.tier == "vvip":
            self.ever_vvip.add(cid)
        note = event.payload.get("note")
        if isinstance(note, str) and note:
            notes = self._notes.setdefault(cid, [])
            notes.append(
                {"event_id": event.event_id, "occurred_at": event.occurred_at, "note": note}
            )
            if len(notes) > HISTORY_LIMIT:
                del notes[0]
        by = event.payload.get("by")
        if event.type == "customer_assigned" and isinstance(by, str):
            day = (by, event.ts // DAY_US)
            self.assigned_by_day[day] = self.assigned_by_day.get(day, 0) + 1

    def _settle(self, until: int) -> None:
        """Fold into the baseline every waiting event that happened by `until` (the main
        replayer has already vetted them: held ones come here only once released)."""
        waiting = self._waiting
        while waiting and waiting[0][0] <= until:
            self._baseline.fold(heapq.heappop(waiting)[2])

    def _touch_rep(self, rep_id: str) -> None:
        self._rep_versions[rep_id] = self.version + 1

    def _remember(self, cid: str, event: Event) -> None:
        items = self._history.setdefault(cid, [])
        item = history_item(event)
        # Sorted by the contract's order and capped at the newest N: whatever order the
        # events arrive in, the same N are kept.
        bisect.insort(items, item, key=lambda h: (h.ts, h.event_id))
        if len(items) > HISTORY_LIMIT:
            del items[0]

    # ------------------------------------------------------------ scoring

    def rescore(self, customer_ids: Iterable[str], as_of: int | None = None) -> None:
        """Score these customers now, as of the ledger's clock (or `as_of`)."""
        states = [self.replayer.customers[c] for c in sorted(set(customer_ids))]
        if not states:
            return
        when = self.as_of if as_of is None else as_of
        rows = self._score(states, when)
        for state, row in zip(states, rows, strict=True):
            current = self.scores.get(state.customer_id)
            # A slice of an older refresh never overwrites a newer score.
            if current is None or current.as_of <= row.as_of or as_of is None:
                self.scores[state.customer_id] = row
                if state.owner is not None:
                    self._touch_rep(state.owner)
        self.version += 1

    def score_all(self) -> None:
        """Score every customer, all at once (when the ledger is loaded)."""
        as_of = self.as_of
        self.rescore(self.replayer.customers, as_of)
        self.refreshed_version = self.version
        self.refreshed_as_of = as_of
        self.score_earlier(as_of - TREND_DAYS * DAY_US)

    async def _earlier_sliced(self, as_of: int) -> dict[str, float] | None:
        """The trends' earlier scores again, a slice at a time, once the clock has moved
        a day past the last ones (None: they are still of the right day)."""
        if as_of - self.earlier_as_of < DAY_US:
            return None
        self._settle(as_of)
        base = self._baseline
        snapshot = Snapshot(base.customers, base.reps, as_of, base.stats)
        ids = sorted(base.customers)
        out: dict[str, float] = {}
        for start in range(0, len(ids), REFRESH_SLICE):
            chunk = [base.customers[c] for c in ids[start : start + REFRESH_SLICE]]
            frame = score_states(chunk, snapshot, self.scorer, self.policy)
            out.update(zip(frame["customer_id"].tolist(), frame["p_close"].tolist(), strict=True))
            await asyncio.sleep(0)
        self.earlier_as_of = as_of
        return out

    def score_earlier(self, as_of: int) -> None:
        """Score every customer as the baseline knew it at `as_of` (for the trends)."""
        self.earlier_as_of = as_of
        self._settle(as_of)
        base = self._baseline
        states = [base.customers[c] for c in sorted(base.customers)]
        if not states:
            self.earlier = {}
            return
        snapshot = Snapshot(base.customers, base.reps, as_of, base.stats)
        frame = score_states(states, snapshot, self.scorer, self.policy)
        self.earlier = dict(
            zip(frame["customer_id"].tolist(), frame["p_close"].astype(float).tolist(), strict=True)
        )

    async def refresh(self) -> None:
        """Re-score everyone at the current clock, a slice at a time, yielding in between."""
        if self.refreshing:
            return
        self.refreshing = True
        try:
            as_of = self.as_of
            ids = sorted(self.replayer.customers)
            fresh: dict[str, ScoreRow] = {}
            for start in range(0, len(ids), REFRESH_SLICE):
                chunk = [self.replayer.customers[c] for c in ids[start : start + REFRESH_SLICE]]
                for state, row in zip(chunk, self._score(chunk, as_of), strict=True):
                    fresh[state.customer_id] = row
                await asyncio.sleep(0)
            earlier = await self._earlier_sliced(as_of - TREND_DAYS * DAY_US)
            if earlier is not None:
                self.earlier = earlier
            # Swap at the end, in one step: lists are rebuilt once, not once per slice.
            for cid, row in fresh.items():
                current = self.scores.get(cid)
                if current is None or current.as_of <= row.as_of:
                    self.scores[cid] = row
            self.version += 1
            self.refreshed_version = self.version
            self.refreshed_as_of = as_of
        finally:
            self.refreshing = False

    def scores_frame(self, states: Iterable[CustomerState]) -> pd.DataFrame:
        """The current scores of these customers, in `models.scoring.SCORE_COLUMNS` form."""
        rows = []
        for state in states:
            row = self.scores.get(state.customer_id)
            if row is None:
                continue
            rows.append(
                (
                    state.customer_id,
                    state.owner,
                    state.status,
                    state.stage,
                    state.effective,
                    row.p_close,
                    row.source,
                    row.expected_value,
                    row.value_basis,
                    row.expected_orders,
                    row.expected_revenue,
                    row.revenue_basis,
                    row.predicted_value,
                    "; ".join(row.reasons),
                )
            )
        rows.sort(key=lambda r: r[0])
        return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))

    def _score(self, states: list[CustomerState], as_of: int) -> list[ScoreRow]:
        frame = score_states(states, self.snapshot(as_of), self.scorer, self.policy)
        return [
            ScoreRow(
                float(p),
                str(source),
                float(ev),
                str(basis),
                float(pv),
                tuple(r for r in str(reasons).split("; ") if r),
                as_of,
                float(orders),
                float(revenue),
                str(revenue_basis),
            )
            for p, source, ev, basis, pv, reasons, orders, revenue, revenue_basis in zip(
                frame["p_close"],
                frame["source"],
                frame["expected_value"],
                frame["value_basis"],
                frame["predicted_value"],
                frame["reasons"],
                frame["expected_orders"],
                frame["expected_revenue"],
                frame["revenue_basis"],
                strict=True,
            )
        ]
