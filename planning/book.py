"""The book: every scored customer of a snapshot, as columns aligned with its score.

Call lists and manager tables read the same dozen facts of up to a million customers.
Pulling each fact out of the state objects once, into a numpy array in customer-id order,
turns each list and table into a vectorised selection or group-by, instead of one Python
loop per customer per table. A column is built the first time something reads it, so a
book used for one table (last week's pipeline) costs only that table's columns. The
states stay at hand (`states[i]`) for the few rows a list or table actually shows.

Nothing here holds a portrait value: the states keep only which sections are known.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import cached_property
from operator import attrgetter
from typing import Any, Final

import numpy as np
import pandas as pd

from streams.core.collector import collector_paused
from streams.core.contract import to_datetime
from streams.core.state import DAY_US, CustomerState, RepState

# "No such time" in the int64 time columns (epoch microseconds); masks say where it applies.
NEVER: Final = np.iinfo(np.int64).min
_NEVER_BYTES: Final = NEVER.to_bytes(8, "little", signed=True)
_EPOCH_DAY: Final = date(1970, 1, 1).toordinal()
POOL: Final = "(pool)"


def iso_time(ts: int) -> str:
    """Epoch microseconds as the contract's ISO-8601 text, in UTC."""
    return to_datetime(ts).isoformat().replace("+00:00", "Z")


def last_effective_ts(contact_times: list[bytes]) -> np.ndarray:
    """The newest effective contact time of each customer (NEVER if none).

    `CustomerState.contact_times` is the sorted multiset of effective contact times packed
    as little-endian int64 (see `SortedInts`), so its last 8 bytes are the newest: one
    slice per customer instead of unpacking the whole list.
    """
    return np.frombuffer(b"".join([t[-8:] or _NEVER_BYTES for t in contact_times]), "<i8")


class Book:
    """Customer columns (numpy arrays, one row per customer, customer-id order).

    The score's columns come from the scores frame; the others from the states, each
    built on first use (`cached_property`) and kept.
    """

    def __init__(
        self,
        customers: Mapping[str, CustomerState],
        reps: Mapping[str, RepState],
        scores: pd.DataFrame,
        as_of: int,
    ) -> None:
        frame = scores
        if not frame["customer_id"].is_monotonic_increasing:
            frame = frame.sort_values("customer_id", kind="stable")
        self.as_of = as_of
        self.reps = reps
        self.customer_id: np.ndarray = frame["customer_id"].to_numpy(dtype=object)
        with collector_paused():
            ids = frame["customer_id"].tolist()
            self.states: list[CustomerState] = list(map(customers.__getitem__, ids))
        owner = frame["owner_rep_id"].to_numpy(dtype=object, copy=True)
        owner[pd.isna(owner)] = None
        self.owner: np.ndarray = owner  # owner rep id or None
        self.status: np.ndarray = frame["status"].to_numpy(dtype=object)
        self.stage: np.ndarray = frame["stage"].to_numpy(dtype=object)
        self.effective: np.ndarray = frame["effective_contacts"].to_numpy(dtype=np.int64)
        self.p_close: np.ndarray = frame["p_close"].to_numpy(dtype=float)
        self.expected_value: np.ndarray = frame["expected_value"].to_numpy(dtype=float)
        self.predicted_value: np.ndarray = frame["predicted_value"].to_numpy(dtype=float)
        self.score_source: np.ndarray = frame["source"].to_numpy(dtype=object)  # model/heuristic
        # The score's "+ ..." / "- ..." lines, joined by "; ".
        self.reasons: np.ndarray = frame["reasons"].fillna("").to_numpy(dtype=object)
        # Every rep known or named as an owner, sorted; owner_idx indexes it (-1: no owner).
        named = {o for o in set(owner.tolist()) if o is not None}
        self.rep_ids: tuple[str, ...] = tuple(sorted(set(reps) | named))

    def __len__(self) -> int:
        return len(self.states)

    def _column(self, name: str, dtype: Any) -> np.ndarray:
        # map + attrgetter run in C: several times faster than a generator per customer.
        # With the collector paused (as the replay does): a million new objects would
        # otherwise set off full passes over every state, for cycles there cannot be.
        with collector_paused():
            return np.fromiter(map(attrgetter(name), self.states), dtype, len(self.states))

    def _at(self, rows: np.ndarray, values: list[Any], fill: Any, dtype: Any) -> np.ndarray:
        """`fill` everywhere but `rows` (a fact only some customers have)."""
        out = np.full(len(self), fill, dtype=dtype)
        if len(rows):
            out[rows] = values
        return out

    # ------------------------------------------------------------ who follows it up

    @cached_property
    def owner_idx(self) -> np.ndarray:
        index = {r: i for i, r in enumerate(self.rep_ids)}
        return np.fromiter((index.get(o, -1) for o in self.owner), np.int64, len(self))

    @cached_property
    def in_pool(self) -> np.ndarray:
        """No active owner: suspended, unowned, or the owner left.

        The rule of features.customer.owner_active: a rep the log never introduced is
        taken as active. The extra last entry is what owner index -1 (no owner) picks.
        """
        reps = self.reps
        active = [r not in reps or reps[r].active for r in self.rep_ids]
        return ~np.array([*active, False], dtype=bool)[self.owner_idx] | (
            self.status == "suspended"
        )

    @cached_property
    def worker_idx(self) -> np.ndarray:
        """The owner, or for a suspended customer the rep who suspended it.

        A suspended customer's funnel still belongs to the rep who worked it and gave up,
        or that rep's conversion would look better for every failure.
        """
        index = {r: i for i, r in enumerate(self.rep_ids)}
        worker = self.owner_idx.copy()
        for i in np.flatnonzero(self.status == "suspended").tolist():
            last = self.states[i].suspensions
            worker[i] = index.get(last[-1].rep_id or "", -1) if last else -1
        return worker

    def owner_label(self, rows: np.ndarray) -> np.ndarray:
        """Who follows each row up: its owner, or the public pool."""
        return np.where(self.in_pool[rows], POOL, self.owner[rows])

    # ------------------------------------------------------------ facts of the states

    @cached_property
    def lead_source(self) -> np.ndarray:
        """Where the lead came from (trade_show, referral, ...; "unknown" if never said)."""
        with collector_paused():
            sources = np.array(list(map(attrgetter("source"), self.states)), dtype=object)
        sources[pd.isna(sources)] = "unknown"
        return sources

    @cached_property
    def tier(self) -> np.ndarray:
        with collector_paused():
            return np.array(list(map(attrgetter("tier"), self.states)), dtype=object)

    @cached_property
    def never_suspend(self) -> np.ndarray:
        return self._column("never_suspend", bool)

    @cached_property
    def contacts(self) -> np.ndarray:
        return self._column("contacts", np.int64)

    @cached_property
    def orders(self) -> np.ndarray:
        return self._column("orders", np.int64)

    @cached_property
    def suspensions(self) -> np.ndarray:
        """Suspensions in the log, whoever made them."""
        with collector_paused():
            suspensions = map(len, map(attrgetter("suspensions"), self.states))
            return np.fromiter(suspensions, np.int64, len(self))

    @cached_property
    def clear_need(self) -> np.ndarray:
        with collector_paused():
            return np.array([s.clear_need is True for s in self.states], dtype=bool)

    @cached_property
    def quoted(self) -> np.ndarray:
        with collector_paused():
            return np.array([s.quote_key is not None for s in self.states], dtype=bool)

    @cached_property
    def quote_open(self) -> np.ndarray:
        # CustomerState.quote_open, inlined: called for most of a million customers.
        rows = np.flatnonzero(self.quoted)
        keys = map(
            attrgetter("quote_key", "order_key", "loss_key"),
            map(self.states.__getitem__, rows.tolist()),
        )
        is_open = [q > max(o or b"", lost or b"") for q, o, lost in keys]
        return self._at(rows, is_open, False, bool)

    @cached_property
    def last_contact(self) -> np.ndarray:
        """The newest effective contact, NEVER if none."""
        with collector_paused():
            return last_effective_ts([s.contact_times for s in self.states])

    @cached_property
    def last_order(self) -> np.ndarray:
        """NEVER if none."""
        rows = np.flatnonzero(self.orders > 0)
        return self._at(rows, [self.states[i].last_order_ts for i in rows], NEVER, np.int64)

    @cached_property
    def order_value(self) -> np.ndarray:
        rows = np.flatnonzero(self.orders > 0)
        return self._at(rows, [self.states[i].order_value for i in rows], 0.0, float)

    @cached_property
    def need_due_day(self) -> np.ndarray:
        """Days since 1970-01-01 of a clear need's due date, NEVER without one."""
        out = np.full(len(self), NEVER, dtype=np.int64)
        for i in np.flatnonzero(self.clear_need).tolist():
            due = self.states[i].need_due
            if due is not None:
                out[i] = date.fromisoformat(due).toordinal() - _EPOCH_DAY
        return out

    # ------------------------------------------------------------ time

    @property
    def as_of_day(self) -> int:
        """as_of's UTC calendar day, in days since 1970-01-01."""
        return self.as_of // DAY_US

    @property
    def has_contact(self) -> np.ndarray:
        return self.last_contact != NEVER

    @property
    def has_order(self) -> np.ndarray:
        return self.last_order != NEVER

    def days_since(self, times: np.ndarray) -> np.ndarray:
        """Days from each time to as_of (NaN where the time is NEVER)."""
        out = np.full(len(times), np.nan)
        known = times != NEVER
        out[known] = (self.as_of - times[known]) / DAY_US
        return out


def build_book(
    customers: Mapping[str, CustomerState],
    reps: Mapping[str, RepState],
    scores: pd.DataFrame,
    as_of: int,
) -> Book:
    """Join each scored customer's state with its score (`models.scoring.score_snapshot`)."""
    return Book(customers, reps, scores, as_of)
