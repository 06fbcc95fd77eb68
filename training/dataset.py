"""Point-in-time training data: snapshots of customers at many as-of times, labelled.

The log is replayed ONCE, in the contract's order `(occurred_at, event_id)`, through the
embedded engine's `Replayer` (the same fold every other path uses). Just before the first
event later than an as-of time `t` is fed, the Replayer's states are exactly the states
folded from the events with `occurred_at <= t`; the features of the chosen customers are
computed right then with `features.customer.feature_matrix` (the one feature
implementation, shared with serving) and copied into an array, so no row keeps a
reference to a state that later events mutate.

Choices (settings in `DatasetConfig`):

- **Who is a row.** Every customer known at `t` whose status is in `statuses`: leads,
  customers and, by default, suspended customers in the public pool. The score command
  and the call list score pool customers too, so the model must see them in training;
  `in_pool` and `suspensions` let it tell them apart.
- **Cadence.** One snapshot every `cadence_days`, counted from `warmup_days` after the
  first customer event (the opening CRM import needs a few weeks to show any contact
  history). Both adapt to the history's length unless set: the warm-up is a twentieth of
  the log (7 to 28 days), and the spacing gives about `TARGET_DATES` labelled as-of
  dates, 3 to 14 days apart. Two years give 14 days (weekly snapshots of 20,000
  customers would be 1-2 million rows that differ little from week to week); nine months
  give 6 days, where a fixed 14 left 3 labelled dates and nothing to backtest on.
- **Cap.** At most `max_rows_per_as_of` rows per as-of time (5,000 by default): when more
  customers are open, the ones with the smallest hash of `(customer_id, as_of)` are kept.
  The hash is salted by the time, so a different sample of customers is drawn at each
  snapshot, and it depends only on who is open at `t`, so it is point-in-time too.
- **Label.** 1 when an `order_won` of the customer has `occurred_at` in `(t, t + horizon]`
  (contract, "What close means"); repeat orders of existing customers count, which is what
  makes `p_close` of a dormant customer its chance to order again.
- **Revenue.** `revenue` is the sum of the amounts of those orders in `(t, t + horizon]`
  and `orders_next` their count (repeat orders summed), what the value model learns;
  `owner_rep_id` is the active owner at `t` (None in the pool), so per-rep totals can be
  backtested. Unlabelled rows have `revenue` NaN and `orders_next` 0.
- **Unlabelled tail.** An as-of time whose horizon runs past the end of the data (the
  latest event, or the `as_of` cut) has no complete label: it yields no rows, unless
  `include_unlabelled` asks for them (then `label` is -1 and they are never trained on).
"""

from __future__ import annotations

import hashlib
import zlib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from features.customer import FEATURE_NAMES, feature_matrix, owner_active
from features.policy import DEFAULT, Policy
from streams.core.contract import Event
from streams.core.deadletter import DeadLetterFile
from streams.core.fold import touches_customer
from streams.core.held import is_ahead, skew_us, wall_clock
from streams.core.log import decode, read_lines
from streams.core.state import DAY_US, CustomerState
from streams.embedded.replay import Replayer

UNLABELLED: Final = -1
META_COLUMNS: Final = (
    "customer_id",
    "as_of",
    "label",
    "owner_rep_id",
    "revenue",
    "orders_next",
)


TARGET_DATES: Final = 40
MIN_CADENCE_DAYS: Final = 3
MAX_CADENCE_DAYS: Final = 14


@dataclass(frozen=True)
class DatasetConfig:
    horizon_days: int = DEFAULT.horizon_days
    cadence_days: int | None = None  # None: adapts to the history's length (module doc)
    warmup_days: int | None = None
    max_rows_per_as_of: int | None = 5000
    statuses: tuple[str, ...] = ("lead", "customer", "suspended")
    include_unlabelled: bool = False

    @property
    def horizon_us(self) -> int:
        return self.horizon_days * DAY_US

    def resolved(self, first_ts: int, end: int) -> DatasetConfig:
        """This config with the warm-up and the spacing fixed for a log spanning
        `first_ts` to `end` (module doc)."""
        span = max(0.0, (end - first_ts) / DAY_US)
        warmup = self.warmup_days
        if warmup is None:
            warmup = int(min(28, max(7, span // 20)))
        cadence = self.cadence_days
        if cadence is None:
            labelled = max(0.0, span - warmup - self.horizon_days)
            cadence = int(min(MAX_CADENCE_DAYS, max(MIN_CADENCE_DAYS, labelled // TARGET_DATES)))
        return replace(self, warmup_days=warmup, cadence_days=cadence)


@dataclass
class Dataset:
    """Feature rows (`X`, columns `FEATURE_NAMES`) and their metadata, row for row."""

    X: np.ndarray
    # customer_id, as_of (epoch µs), label (1, 0, or -1 unlabelled), owner_rep_id (at as_of,
    # None if unowned), revenue and orders_next (ordered within the horizon; NaN and 0
    # when unlabelled)
    meta: pd.DataFrame
    end: int  # labels are complete up to here (epoch µs)
    fingerprint: str  # sha256 of the events used (see `fingerprint`)
    events: int  # distinct events used
    config: DatasetConfig = field(default_factory=DatasetConfig)
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def y(self) -> np.ndarray:
        return self.meta["label"].to_numpy()

    @property
    def as_of(self) -> np.ndarray:
        return self.meta["as_of"].to_numpy()

    @property
    def labelled(self) -> np.ndarray:
        return self.y != UNLABELLED

    def subset(self, mask: np.ndarray) -> Dataset:
        return Dataset(
            self.X[mask],
            self.meta[mask].reset_index(drop=True),
            self.end,
            self.fingerprint,
            self.events,
            self.config,
            self.feature_names,
        )

    def frame(self) -> pd.DataFrame:
        """Metadata and features side by side (for analysts)."""
        features = pd.DataFrame(self.X, columns=list(self.feature_names))
        return pd.concat([self.meta, features], axis=1)


@dataclass(frozen=True)
class EventSet:
    """Valid events, distinct by `event_id`, sorted in the contract's order."""

    events: list[Event]
    end: int  # the as-of cut if one was given, else the latest event's time
    rejected: int = 0
    after_as_of: int = 0
    held: int = 0  # dated beyond the allowed skew ahead of the clock (streams.core.held)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.events)


def prepare(events: Iterable[Event], as_of: int | None = None) -> EventSet:
    """Keep events up to `as_of`, drop repeated ids, sort by `(occurred_at, event_id)`."""
    kept: dict[str, Event] = {}
    late = 0
    for event in events:
        if as_of is not None and event.ts > as_of:
            late += 1
            continue
        # A repeated id is the same event (contract); the fold ignores it, and so do the
        # labels and the fingerprint.
        kept.setdefault(event.event_id, event)
    ordered = sorted(kept.values(), key=attrgetter("ts", "event_id"))
    end = as_of if as_of is not None else (ordered[-1].ts if ordered else 0)
    return EventSet(ordered, end, after_as_of=late)


def read_events(
    paths: Sequence[Path],
    as_of: int | None = None,
    dead_letters: Path | None = None,
    progress: bool = False,
) -> EventSet:
    """Read log files; invalid lines go to the dead-letter file and are counted, not raised."""
    valid: list[Event] = []
    rejected = 0
    with DeadLetterFile(dead_letters) as dlq:
        for item in decode(read_lines(paths, progress)):
            if isinstance(item, Event):
                valid.append(item)
            else:
                rejected += 1
                dlq.write(item)
    # Time is the clock's, here as in the replay: an event dated beyond the allowed skew
    # ahead of it is not yet effective, and one such event must not make every label look
    # complete (the data's end would be its date). It stays in the log, counted as held.
    now, skew = wall_clock(), skew_us()
    current = [e for e in valid if not is_ahead(e.ts, now, skew)]
    prepared = prepare(current, as_of)
    held = len(valid) - len(current)
    return EventSet(prepared.events, prepared.end, rejected, prepared.after_as_of, held)


def fingerprint(events: Sequence[Event]) -> str:
    """sha256 over the canonical JSON of the events, in the order given (sorted by `prepare`)."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(event.to_json())
        digest.update(b"\n")
    return digest.hexdigest()


def snapshot_times(first_ts: int, end: int, config: DatasetConfig) -> list[int]:
    """As-of times: every `cadence_days` from `warmup_days` after the first customer event.

    Anchored at the start of the data (a UTC midnight), so appending later events never
    moves an earlier snapshot. Without `include_unlabelled`, only times whose horizon ends
    by `end` are returned.
    """
    config = config.resolved(first_ts, end)
    assert config.cadence_days is not None and config.warmup_days is not None
    day0 = first_ts - first_ts % DAY_US
    step = config.cadence_days * DAY_US
    last = end if config.include_unlabelled else end - config.horizon_us
    times = []
    t = day0 + config.warmup_days * DAY_US
    while t <= last:
        times.append(t)
        t += step
    return times


def _order_times(events: Sequence[Event]) -> dict[str, list[int]]:
    orders: dict[str, list[int]] = {}
    for event in events:
        if event.type == "order_won" and event.customer_id is not None:
            orders.setdefault(event.customer_id, []).append(event.ts)
    return orders  # already sorted: the events are


def _order_amounts(events: Sequence[Event]) -> dict[str, list[float]]:
    """Each customer's order amounts, in the order of `_order_times`."""
    amounts: dict[str, list[float]] = {}
    for event in events:
        if event.type == "order_won" and event.customer_id is not None:
            amounts.setdefault(event.customer_id, []).append(float(event.payload["amount"]))
    return amounts


def label(order_ts: Sequence[int], as_of: int, horizon_us: int) -> int:
    """1 when an order falls in `(as_of, as_of + horizon]` (`order_ts` sorted)."""
    i = bisect_right(order_ts, as_of)
    return int(i < len(order_ts) and order_ts[i] <= as_of + horizon_us)


def revenue(
    order_ts: Sequence[int], amounts: Sequence[float], as_of: int, horizon_us: int
) -> tuple[float, int]:
    """Amount and count of the orders in `(as_of, as_of + horizon]` (`order_ts` sorted)."""
    i = bisect_right(order_ts, as_of)
    j = bisect_right(order_ts, as_of + horizon_us)
    return float(sum(amounts[i:j])), j - i


def _sample(states: list[CustomerState], cap: int, as_of: int) -> list[CustomerState]:
    """At most `cap` states: those with the smallest hash of (customer_id, as_of)."""
    if len(states) <= cap:
        return states
    keys = [zlib.crc32(f"{s.customer_id}|{as_of}".encode()) for s in states]
    order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")[:cap]
    return [states[i] for i in order]


def build_dataset(
    events: EventSet, config: DatasetConfig = DatasetConfig(), policy: Policy = DEFAULT
) -> Dataset:
    """Snapshot, featurise and label the customers at every as-of time (see module doc)."""
    customer_events = [e for e in events.events if touches_customer(e)]
    if customer_events:
        config = config.resolved(customer_events[0].ts, events.end)
    times = snapshot_times(customer_events[0].ts, events.end, config) if customer_events else []
    orders = _order_times(customer_events)
    amounts = _order_amounts(customer_events)
    replayer = Replayer()
    blocks: list[np.ndarray] = []
    ids: list[str] = []
    stamps: list[int] = []
    labels: list[int] = []
    owners: list[str | None] = []
    revenues: list[float] = []
    counts: list[int] = []
    feed = iter(events.events)
    pending: Event | None = next(feed, None)
    wanted = frozenset(config.statuses)
    for t in times:
        while pending is not None and pending.ts <= t:
            replayer.feed(pending)
            pending = next(feed, None)
        states = [s for s in replayer.customers.values() if s.status in wanted]
        if config.max_rows_per_as_of is not None:
            states = _sample(states, config.max_rows_per_as_of, t)
        states.sort(key=attrgetter("customer_id"))
        # Computed now, while the states are exactly those as of t.
        blocks.append(feature_matrix(states, replayer.reps, t, policy))
        complete = t + config.horizon_us <= events.end
        for s in states:
            ids.append(s.customer_id)
            stamps.append(t)
            owners.append(s.owner if owner_active(s, replayer.reps) else None)
            if complete:
                times_c = orders.get(s.customer_id, [])
                labels.append(label(times_c, t, config.horizon_us))
                amount, count = revenue(
                    times_c, amounts.get(s.customer_id, []), t, config.horizon_us
                )
                revenues.append(amount)
                counts.append(count)
            else:
                labels.append(UNLABELLED)
                revenues.append(float("nan"))
                counts.append(0)
    X = np.vstack(blocks) if blocks else np.empty((0, len(FEATURE_NAMES)))
    meta = pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype=object),
            "as_of": np.asarray(stamps, dtype=np.int64),
            "label": np.asarray(labels, dtype=np.int8),
            "owner_rep_id": pd.Series(owners, dtype=object),
            "revenue": np.asarray(revenues, dtype=np.float64),
            "orders_next": np.asarray(counts, dtype=np.int32),
        },
        columns=list(META_COLUMNS),
    )
    return Dataset(X, meta, events.end, events.fingerprint, len(events.events), config)


def build_from_files(
    paths: Sequence[Path],
    config: DatasetConfig = DatasetConfig(),
    as_of: int | None = None,
    dead_letters: Path | None = None,
    policy: Policy = DEFAULT,
) -> Dataset:
    return build_dataset(read_events(paths, as_of, dead_letters), config, policy)
