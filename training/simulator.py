"""Synthetic contact-event logs for B2B printing/packaging sales teams.

`simulate` yields contract events (see `docs/contract/events.md`) as plain dicts in
`occurred_at` order; `write_log` writes them as JSON Lines plus a hidden ground-truth file
(`<log>.truth.csv`) that holds each customer's latent propensity and traits. The log never
contains the truth, so models must learn it from behaviour.

Everything is drawn from one seeded `random.Random`: the same config gives the same bytes.
The log covers `days` from local midnight of `start`, except that reps on the team when it
starts have their `rep_joined` at their real (earlier) hiring dates, so tenure is known.

Sizes (about 50 events per customer-year, ~100k events/s on one core, ~0.5 GB per million):
2,000 customers / 20 reps / 365 days is ~70k events in under a second;
20,000 customers / 200 reps / 570 days is ~1.0M events in ~10 s.

Command line: `python -m training.simulator OUT.jsonl --customers 20000 --reps 200 --days 570`.

    >>> cfg = SimulationConfig(customers=50, reps=5, days=60)
    >>> events = list(simulate(cfg))
    >>> events[0]["type"]
    'rep_joined'
    >>> events == list(simulate(cfg))
    True
"""

from __future__ import annotations

import argparse
import csv
import gc
import random
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from training.sim.customer import CustomerLife, Sink, Traits, draw_traits
from training.sim.world import DAY, OFFICE_OPENS, Clock, Roster, build_roster

OPENING_BOOK_SHARE = 0.3  # customers loaded in the first month (the initial CRM import)
OPENING_BOOK_DAYS = 30
TRUTH_COLUMNS = (
    "customer_id",
    "propensity",
    "responsiveness",
    "need_interval_days",
    "price_sensitivity",
    "segment",
    "size",
    "source",
    "industry_fit",
    "potential_value",
    "tier",
    "never_suspend",
    "breaks_suspension_rule",
    "lead_created_at",
)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. `reps` is the headcount when the log starts (one manager per ~8);
    people leave and are replaced over the period at ~12.5 % a year."""

    customers: int = 2000
    reps: int = 20  # headcount when the log starts, managers included
    days: int = 365
    seed: int = 7
    start: datetime = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=8)))


@dataclass(frozen=True)
class SimulationSummary:
    """What `write_log` wrote."""

    events: int
    customers: int
    reps: int  # everyone who ever appears in a rep_joined event
    deals: int  # order_won events
    by_type: dict[str, int] = field(default_factory=dict)
    first_occurred_at: str = ""
    last_occurred_at: str = ""
    log_path: Path | None = None
    truth_path: Path | None = None


@dataclass(frozen=True)
class _World:
    """The generated log in memory: sorted event tuples plus the truth behind them."""

    clock: Clock
    roster: Roster
    events: list[tuple[int, int, str, str | None, str | None, dict[str, Any]]]
    truths: list[tuple[str, int, Traits]]  # (customer id, arrival minute, traits)


def truth_path(log_path: Path) -> Path:
    """Where the hidden ground truth of a log lives: next to it, `<name>.truth.csv`."""
    return log_path.with_name(log_path.name + ".truth.csv")


def _arrivals(rng: random.Random, clock: Clock, customers: int, days: int) -> list[int]:
    """When each lead enters: an opening import in the first month, then a steady flow."""
    opening = round(customers * OPENING_BOOK_SHARE)
    times = []
    for i in range(customers):
        day = rng.randrange(min(OPENING_BOOK_DAYS, days)) if i < opening else rng.randrange(days)
        t = clock.office_time(day, rng)
        # A lead drawn for the last weekend keeps its day rather than slipping past the end.
        times.append(t if t < days * DAY else day * DAY + OFFICE_OPENS)
    return sorted(times)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The log is a million long-lived objects: generational GC passes over them are pure
    overhead (about a third of the run time), and nothing in it forms reference cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(config: SimulationConfig, progress: bool = False) -> _World:
    with _gc_paused():
        return _build_world(config, progress)


def _build_world(config: SimulationConfig, progress: bool) -> _World:
    if config.customers < 0 or config.reps < 1 or config.days < 1:
        raise ValueError("need customers >= 0, reps >= 1 and days >= 1")
    rng = random.Random(config.seed)
    clock = Clock(config.start)
    roster = build_roster(rng, config.reps, config.days)
    sink = Sink()
    for rep in roster.reps:
        payload: dict[str, Any] = {"role": rep.role, "team": rep.team, "name": rep.name}
        sink.emit(rep.joined, "rep_joined", None, rep.rep_id, payload)
        if rep.left is not None:
            sink.emit(rep.left, "rep_left", None, rep.rep_id, {})
    end = config.days * DAY
    arrivals = _arrivals(rng, clock, config.customers, config.days)
    truths: list[tuple[str, int, Traits]] = []
    rows: Iterable[tuple[int, int]] = enumerate(arrivals, start=1)
    if progress:
        rows = tqdm(rows, total=len(arrivals), desc="customers", unit="", file=sys.stderr)
    for index, arrival in rows:
        traits = draw_traits(rng, opening_book=arrival < OPENING_BOOK_DAYS * DAY)
        life = CustomerLife(index, arrival, traits, end, clock, roster, rng, sink)
        life.run()
        truths.append((life.cid, arrival, traits))
    # Follow-ups scheduled past the horizon are cut: the log ends with the period.
    events = [e for e in sink.events if e[1] < end]
    events.sort(key=itemgetter(0))
    return _World(clock, roster, events, truths)


def _dicts(world: _World, seed: int) -> Iterator[dict[str, Any]]:
    iso = world.clock.iso
    prefix = f"e{seed}-"
    for n, (_, t, kind, customer, rep, payload) in enumerate(world.events):
        # Ids follow the sorted order, so ties in occurred_at are already in event_id order.
        event_id = f"{prefix}{n:09d}"
        if customer is None:  # rep events have no customer
            yield {
                "event_id": event_id,
                "type": kind,
                "occurred_at": iso(t),
                "rep_id": rep,
                "payload": payload,
            }
        else:
            yield {
                "event_id": event_id,
                "type": kind,
                "occurred_at": iso(t),
                "customer_id": customer,
                "rep_id": rep,
                "payload": payload,
            }


def simulate(config: SimulationConfig) -> Iterator[dict[str, Any]]:
    """Contract events as plain dicts, in occurred_at order (ties by event_id).

    The whole period is simulated before the first event is yielded (events of different
    customers interleave in time), so memory grows with the log: ~0.5 GB per million events.
    """
    yield from _dicts(_build(config), config.seed)


def write_log(config: SimulationConfig, out: Path, progress: bool = False) -> SimulationSummary:
    """Write the log as JSON Lines (orjson, UTF-8) and its ground truth next to it."""
    with _gc_paused():
        return _write(config, out, progress)


def _write(config: SimulationConfig, out: Path, progress: bool) -> SimulationSummary:
    world = _build_world(config, progress)
    by_type: Counter[str] = Counter()
    first = last = ""
    out.parent.mkdir(parents=True, exist_ok=True)
    events: Iterable[dict[str, Any]] = _dicts(world, config.seed)
    if progress:
        events = tqdm(events, total=len(world.events), desc="events", file=sys.stderr)
    with out.open("wb") as fh:
        buffer: list[bytes] = []
        for event in events:
            by_type[event["type"]] += 1
            buffer.append(orjson.dumps(event))
            if len(buffer) >= 10_000:
                fh.write(b"\n".join(buffer) + b"\n")
                buffer.clear()
            last = event["occurred_at"]
            first = first or last
        if buffer:
            fh.write(b"\n".join(buffer) + b"\n")
    truth = truth_path(out)
    _write_truth(world, truth)
    return SimulationSummary(
        events=sum(by_type.values()),
        customers=len(world.truths),
        reps=len(world.roster.reps),
        deals=by_type["order_won"],
        by_type=dict(sorted(by_type.items())),
        first_occurred_at=first,
        last_occurred_at=last,
        log_path=out,
        truth_path=truth,
    )


def _write_truth(world: _World, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(TRUTH_COLUMNS)
        for cid, arrival, tr in world.truths:
            writer.writerow(
                (
                    cid,
                    f"{tr.propensity:.6f}",
                    f"{tr.responsiveness:.6f}",
                    f"{tr.need_interval:.1f}",
                    f"{tr.price_sensitivity:.4f}",
                    tr.industry,
                    tr.size,
                    tr.source,
                    f"{tr.fit:.2f}",
                    tr.potential_value,
                    tr.tier,
                    int(tr.never_suspend),
                    int(tr.breaks_rule_at > 0),
                    world.clock.iso(arrival),
                )
            )


def main(argv: list[str] | None = None) -> None:
    """Command line: `python -m training.simulator OUT.jsonl --customers 20000 ...`."""
    parser = argparse.ArgumentParser(description="Write a synthetic closecast event log.")
    parser.add_argument("out", type=Path)
    defaults = SimulationConfig()
    for name in ("customers", "reps", "days", "seed"):
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name))
    args = parser.parse_args(argv)
    config = SimulationConfig(
        customers=args.customers, reps=args.reps, days=args.days, seed=args.seed
    )
    summary = write_log(config, args.out, progress=True)
    print(orjson.dumps({"events": summary.events, **summary.by_type}).decode())


if __name__ == "__main__":
    main()
