"""The embedded replay on several cores: the log split by customer over forked processes.

Customers' states never mix, so each worker (the calling process is worker 0, the others
are forked children) reads every line but parses and folds only the lines of the
customers it owns, `crc32(customer_id) % workers`. Which worker owns a line is guessed
from its raw bytes without parsing (`line_owner`), the same way by every worker; a line
without a guess is parsed by every worker and kept by its owner only (a line without a
customer, or a bad line, by worker 0). So every line is counted, folded or rejected by
one worker, and each customer's events reach its worker in file order: its state is
exactly the single-process state.

Reps receive events from every worker. Their states merge exactly (`merge_rep`: sets,
counters, exact sums, last-writer-wins registers) as long as no event id digest reaches
one rep week (or rep profile) from two workers; that needs one event id on two
customers, which the contract forbids, and the result would then depend on arrival
order. In that case, and when a guess proves wrong, `replay_parallel` returns None and
the caller replays in one process: slower, never different. Rejections, stats and the
order in which customers and reps first appeared are put back in file order, so the
snapshot and the dead-letter file are the single-process ones.
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
import pickle
import re
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Final
from zlib import crc32

from tqdm import tqdm
from tqdm._monitor import TMonitor

from streams.core.collector import collector_paused
from streams.core.contract import Event, InvalidEvent, parse
from streams.core.deadletter import DeadLetterFile, Rejection, reject
from streams.core.fold import merge_rep
from streams.core.settings import SettingsError
from streams.core.snapshot import ReplayStats, Snapshot
from streams.core.state import CustomerState, RepState
from streams.embedded.replay import Replayer

# Below this much log one process is as fast or faster: starting the workers and
# shipping their states back cost what the split saves (on this project's shared 2-core
# machine a 21 MB log of 110,000 events came out about even).
PARALLEL_MIN_BYTES: Final = 32 * 1024 * 1024

# The first `"customer_id":"` and, if the bytes up to the next quote hold no backslash,
# those bytes. One regex search does what took five steps in Python: line_owner runs on
# every line in every worker, and this cut its cost by a third.
_CUSTOMER_KEY: Final = re.compile(rb'"customer_id":"(?:([^"\\]*)")?')

# A line's place in the input: (file index, line number).
Position = tuple[int, int]


class ReplayWorkerError(RuntimeError):
    """A replay worker process failed or died: there is no (partial) result."""


def auto_workers(paths: list[Path]) -> int:
    """How many processes `replay_files` uses when not told: one for small logs, one per
    available core for large ones (`CLOSECAST_REPLAY_WORKERS` overrides)."""
    setting = os.environ.get("CLOSECAST_REPLAY_WORKERS", "").strip()
    if setting:
        if not (setting.isascii() and setting.isdigit()) or int(setting) < 1:
            raise SettingsError(
                f"CLOSECAST_REPLAY_WORKERS: {setting!r} is not a number of at least 1"
            )
        return int(setting)
    if sum(p.stat().st_size for p in paths) < PARALLEL_MIN_BYTES:
        return 1
    if not can_fork() or not _single_threaded():
        return 1
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return len(cores) if cores else os.cpu_count() or 1


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _single_threaded() -> bool:
    """No thread but this one, so a forked child cannot inherit a lock held mid-use.

    tqdm's monitor does not count: any bar starts it, it only sleeps and takes tqdm's own
    lock, and the workers never show a bar."""
    return all(
        t is threading.main_thread() or isinstance(t, TMonitor) for t in threading.enumerate()
    )


def line_owner(raw: bytes, workers: int) -> int | None:
    """The worker owning a raw line, read without parsing it; None if the bytes do not say.

    The guess is the customer id's bytes after the first `"customer_id":"`, if that
    follows a brace or a comma, up to the next quote, unless they hold a backslash (an
    escape spells the id in other bytes). Every worker guesses alike, so a guessed line reaches
    one worker only, which checks the parsed event's owner (see `fold_share`): the
    guess is wrong only when the key sits elsewhere (in the payload, say) and the top
    level's is spelt otherwise, which no writer here does.
    """
    found = _CUSTOMER_KEY.search(raw)
    if found is None:
        return None
    customer = found[1]
    at = found.start()
    if customer is None or at < 1 or raw[at - 1] not in b"{,":
        return None
    return crc32(customer) % workers


def event_owner(event: Event, workers: int) -> int:
    """The worker owning a parsed event: its customer's, or worker 0 without one."""
    if event.customer_id is None:
        return 0
    return crc32(event.customer_id.encode("utf-8", "surrogatepass")) % workers


@dataclass
class Share:
    """What one worker folded, and where in the input each state first appeared."""

    customers: dict[str, CustomerState]
    reps: dict[str, RepState]
    stats: ReplayStats
    latest: int
    held: list[Event]
    rejections: list[tuple[Position, Rejection]]
    customer_first: list[Position]  # in the order of `customers`
    rep_first: list[Position]  # in the order of `reps`
    stray: Position | None = None  # a line guessed wrong: the shares cannot be merged
    timings: dict[str, float] = field(default_factory=dict)  # seconds, bytes shipped


def fold_share(
    paths: list[Path],
    as_of: int | None,
    me: int,
    workers: int,
    progress: bool = False,
    now: int | None = None,
) -> Share:
    """Fold the lines worker `me` of `workers` owns."""
    replayer = Replayer(as_of, now)
    feed = replayer.feed
    customers, reps = replayer.customers, replayer.reps
    rejections: list[tuple[Position, Rejection]] = []
    customer_first: list[Position] = []
    rep_first: list[Position] = []
    known_customers = known_reps = 0
    with collector_paused():
        for index, source, number, raw, owner in _lines_to_parse(paths, me, workers, progress):
            try:
                event = parse(raw)
            except InvalidEvent as exc:
                if owner is None and me != 0:
                    continue  # a bad line no worker could place: worker 0 keeps it
                rejection = reject(source, number, raw, str(exc))
                replayer.reject(rejection)
                rejections.append(((index, number), rejection))
                continue
            # A customer already folded here is this worker's; only others need the hash.
            if event.customer_id not in customers and event_owner(event, workers) != me:
                if owner is None:
                    continue  # parsed by every worker: its owner keeps it
                # A wrong guess: the owner skipped this line. Stop; it cannot be exact.
                return Share({}, {}, replayer.stats, 0, [], [], [], [], stray=(index, number))
            feed(event)
            if len(customers) != known_customers:
                known_customers += 1
                customer_first.append((index, number))
            if len(reps) != known_reps:
                known_reps += 1
                rep_first.append((index, number))
    return Share(
        customers,
        reps,
        replayer.stats,
        replayer.latest,
        list(replayer.hold.events),
        rejections,
        customer_first,
        rep_first,
    )


def _lines_to_parse(
    paths: list[Path], me: int, workers: int, progress: bool
) -> Iterator[tuple[int, str, int, bytes, int | None]]:
    """`numbered_lines`, without the lines `line_owner` gives another worker, each with
    its owner guess. Half the log, or more, is skipped here: the skip is kept to one
    guess a line, before the work `numbered_lines` does for a line it yields."""
    bar: tqdm[Any] | None = None
    if progress:
        total = sum(p.stat().st_size for p in paths)
        bar = tqdm(total=total, unit="B", unit_scale=True, desc="replay", leave=False)
    done = 0  # bytes in the files before this one
    try:
        for index, path in enumerate(paths):
            source = str(path)
            with path.open("rb") as handle:
                for number, raw in enumerate(handle, start=1):
                    if bar is not None and number % 4096 == 0:
                        bar.update(done + handle.tell() - bar.n)
                    owner = line_owner(raw, workers)
                    if owner is not None and owner != me:
                        continue
                    raw = raw.rstrip(b"\r\n")
                    if raw and not raw.isspace():
                        yield index, source, number, raw, owner
            done += path.stat().st_size
    finally:
        if bar is not None:
            bar.close()


# Paused throughout, not only while folding: unpickling the other workers' states
# allocates as much as folding them did, and the collector's passes over this process's
# own states then doubled the time that took.
@collector_paused()
def replay_parallel(
    paths: list[Path],
    as_of: int | None,
    dead_letters: Path | None,
    progress: bool,
    workers: int,
    now: int | None = None,
) -> Snapshot | None:
    """`replay_files` over `workers` processes; None if the shares cannot be merged
    exactly (a wrong guess, or an event id on two customers: see the module's note)."""
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    children: list[tuple[int, BaseProcess, Connection]] = []
    try:
        for me in range(1, workers):
            receiver, sender = context.Pipe(duplex=False)
            process: BaseProcess = context.Process(
                target=_child,
                args=(sender, paths, as_of, me, workers, now),
                name=f"closecast-replay-{me}",
                daemon=True,
            )
            process.start()
            sender.close()
            children.append((me, process, receiver))
        shares = [fold_share(paths, as_of, 0, workers, progress, now)]
        folded = time.perf_counter()
        for me, process, receiver in children:
            if shares[-1].stray is not None:
                return None
            shares.append(_receive(me, process, receiver))
        if shares[-1].stray is not None:
            return None
    finally:
        for _, process, receiver in children:
            receiver.close()
            if process.is_alive():
                process.kill()
            process.join()
    received = time.perf_counter()
    snapshot = _merge(shares, as_of)
    if snapshot is None:
        return None
    with DeadLetterFile(dead_letters) as dlq:
        for _, rejection in heapq.merge(*(s.rejections for s in shares), key=_position):
            dlq.write(rejection)
    snapshot.timings.update(workers=workers, worker0_fold_s=folded - started)
    for me, share in enumerate(shares[1:], start=1):
        snapshot.timings.update({f"worker{me}_{k}": v for k, v in share.timings.items()})
    snapshot.timings.update(
        ship_s=sum(share.timings["ship_s"] for share in shares[1:]),
        ship_bytes=sum(share.timings["ship_bytes"] for share in shares[1:]),
        merge_s=time.perf_counter() - received,
        total_s=time.perf_counter() - started,
    )
    return snapshot


def _child(
    sender: Connection,
    paths: list[Path],
    as_of: int | None,
    me: int,
    workers: int,
    now: int | None,
) -> None:
    started = pickling = time.perf_counter()
    try:
        share = fold_share(paths, as_of, me, workers, False, now)
        pickling = time.perf_counter()
        share.timings["fold_s"] = pickling - started
        message = pickle.dumps(("ok", share), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:
        message = pickle.dumps(("error", traceback.format_exc()))
    pickled = time.perf_counter() - pickling
    sender.send_bytes(message)
    sender.send_bytes(pickle.dumps(pickled))  # what pickling took, for the benchmark
    sender.close()


def _receive(me: int, process: BaseProcess, receiver: Connection) -> Share:
    waiting = time.perf_counter()
    try:
        message = receiver.recv_bytes()
        received = time.perf_counter()
        status, body = pickle.loads(message)
        pickled = pickle.loads(receiver.recv_bytes())
    except EOFError:
        process.join()
        raise ReplayWorkerError(
            f"replay worker {me} ended without a result (exit code {process.exitcode})"
        ) from None
    if status != "ok":
        raise ReplayWorkerError(f"replay worker {me} failed:\n{body}")
    assert isinstance(body, Share)
    _share_ints(body.customers.values())
    body.timings.update(
        wait_s=received - waiting,
        ship_s=pickled + time.perf_counter() - received,  # pickle, unpickle, ints shared
        ship_bytes=len(message),
    )
    return body


def _position(item: tuple[Position, Rejection]) -> Position:
    return item[0]


def _merge(shares: list[Share], as_of: int | None) -> Snapshot | None:
    customers: dict[str, CustomerState] = {}
    # Positions are unique (one line, one customer), so the states are never compared.
    for _, (customer_id, state) in heapq.merge(
        *(zip(s.customer_first, s.customers.items(), strict=True) for s in shares)
    ):
        if customer_id in customers:
            raise ReplayWorkerError(f"customer {customer_id!r} was folded by two workers")
        customers[customer_id] = state
    first_seen: dict[str, Position] = {}
    reps: dict[str, RepState] = {}
    for share in shares:
        for position, (rep_id, rep) in zip(share.rep_first, share.reps.items(), strict=True):
            mine = reps.get(rep_id)
            if mine is None:
                reps[rep_id] = rep
                first_seen[rep_id] = position
            elif not merge_rep(mine, rep):
                return None
            else:
                first_seen[rep_id] = min(first_seen[rep_id], position)
    reps = {rep_id: reps[rep_id] for rep_id in sorted(reps, key=first_seen.__getitem__)}
    stats = ReplayStats()
    for share in shares:
        stats.events_read += share.stats.events_read
        stats.events_applied += share.stats.events_applied
        stats.duplicates += share.stats.duplicates
        stats.rejected += share.stats.rejected
        stats.after_as_of += share.stats.after_as_of
        stats.held += share.stats.held
    # Recounted in file order, so that ties in `most_common` come out as they would.
    stats.reasons = Counter(
        rejection.reason.split(":", 1)[0]
        for _, rejection in heapq.merge(*(s.rejections for s in shares), key=_position)
    )
    latest = max(share.latest for share in shares)
    held = list(heapq.merge(*(s.held for s in shares), key=lambda e: e.key))
    return Snapshot(customers, reps, as_of if as_of is not None else latest, stats, held)


# The single-process replay shares one int object per distinct time (the parser's time
# cache); unpickling gives each field its own. Sharing them again saves ~100 bytes a
# customer, which is what keeps a state under 2 KB.
_TIME_FIELDS: Final = tuple(name for name in CustomerState.__slots__ if name.endswith("_ts"))


def _share_ints(states: Iterable[CustomerState]) -> None:
    pool: dict[int, int] = {}
    for state in states:
        for name in _TIME_FIELDS:
            value = getattr(state, name)
            if value is not None:
                setattr(state, name, pool.setdefault(value, value))
        state.contact_reps = tuple(
            pool.setdefault(x, x) if type(x) is int else x for x in state.contact_reps
        )
