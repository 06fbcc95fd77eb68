"""The reliability scenarios' side of the real thing: named, restartable workers, a paced
producer that survives a broker restart, a memory sampler and convergence checks.

The worker process itself and the broker's offsets are `tests/support/workerproc.py`, shared with
the live tests. Every wait is bounded: a scenario that hangs fails with the worker's log
tail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.core.snapshot import Snapshot
from streams.worker.producer import ensure_topic, new_producer, send_lines
from tests.reliability.table import Tally, tally
from tests.support.workerproc import (
    MissingTopic,
    WorkerProcess,
    committed,
    lag,
    run_async,
    wait_for,
)
from tools import broker


class Worker(WorkerProcess):
    """A named worker whose data dir and log sit under the scenario's folder."""

    def __init__(
        self,
        app_id: str,
        root: Path,
        name: str = "worker",
        model_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            app_id,
            root / f"{name}-data",
            root / f"{name}.log",
            name=name,
            model_dir=model_dir,
            env=env,
        )


def consumed(app_id: str) -> int:
    """Messages of the events topic the group has committed (all partitions)."""
    topic = f"{app_id}-events"
    return sum(n for tp, n in committed(app_id).items() if tp.topic == topic)


def source_topics(app_id: str) -> list[str]:
    return [f"{app_id}-events", f"{app_id}-rep-events"]


def create_topic(app_id: str, partitions: int = 4) -> str:
    topic = f"{app_id}-events"
    found = run_async(ensure_topic(broker.bootstrap_servers(), topic, partitions))
    assert found == partitions, f"{topic} has {found} partitions"
    return topic


# ---------------------------------------------------------------- producing


@dataclass
class Sending:
    """What a `Producer` has done so far (read from other threads)."""

    total: int
    sent: int = 0  # lines acknowledged by the broker, in order
    resent: int = 0  # lines sent again after a failed chunk (the fold drops the repeats)
    failures: int = 0
    started: float = 0.0
    finished: float = 0.0
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Producer:
    """Sends lines (keyed by the contract) from a background thread, at most `rate` a
    second (None: as fast as it goes), and keeps trying through a broker outage.

    A chunk whose sends fail is sent again whole, after a pause, by a new producer: some
    of its messages may then be on the topic twice, as with any at-least-once producer.
    """

    CHUNK = 500

    def __init__(
        self, topic: str, lines: Sequence[bytes], rate: float | None, give_up_after: float = 180
    ) -> None:
        self.topic = topic
        self.lines = lines
        self.rate = rate
        self.give_up_after = give_up_after
        self.state = Sending(total=len(lines))
        self._thread = threading.Thread(target=self._main, name=f"producer-{topic}", daemon=True)

    def start(self) -> Producer:
        self._thread.start()
        return self

    def wait(self, timeout: float) -> Sending:
        if not self.state.done.wait(timeout):
            raise AssertionError(
                f"the producer did not finish within {timeout:.0f}s "
                f"({self.state.sent:,} of {self.state.total:,} sent)"
            )
        if self.state.error is not None:
            raise AssertionError(f"the producer failed: {self.state.error!r}")
        return self.state

    def _main(self) -> None:
        try:
            asyncio.run(self._send_all())
        except BaseException as exc:  # handed to the test thread through `wait`
            self.state.error = exc
        finally:
            self.state.finished = time.monotonic()
            self.state.done.set()

    async def _send_all(self) -> None:
        state = self.state
        state.started = time.monotonic()
        producer = await self._connect()
        last_ok = time.monotonic()
        try:
            # A chunk waits for its acknowledgements before the next goes: at high rates
            # (a burst) a chunk holds a tenth of a second's worth, or the round trips,
            # not the rate, would set the pace.
            chunk = max(self.CHUNK, round(self.rate / 10)) if self.rate else 50 * self.CHUNK
            while state.sent < state.total:
                part = self.lines[state.sent : state.sent + chunk]
                try:
                    await send_lines(producer, self.topic, part)
                except Exception:
                    if time.monotonic() - last_ok > self.give_up_after:
                        raise
                    state.failures += 1
                    state.resent += len(part)
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    await asyncio.sleep(1.0)
                    producer = await self._connect()
                    continue
                last_ok = time.monotonic()
                state.sent += len(part)
                if self.rate:
                    ahead = state.started + state.sent / self.rate - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
        finally:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _connect(self) -> Any:
        deadline = time.monotonic() + self.give_up_after
        while True:
            producer = new_producer(broker.bootstrap_servers())
            try:
                await producer.start()
                return producer
            except Exception:
                with contextlib.suppress(Exception):
                    await producer.stop()
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(1.0)


def produce(topic: str, lines: Sequence[bytes], timeout: float = 300) -> Sending:
    """Send every line now and wait for the broker's acknowledgements."""
    return Producer(topic, lines, None).start().wait(timeout)


def burst(topic: str, lines: Sequence[bytes], processes: int = 2, timeout: float = 300) -> float:
    """Send `lines` as fast as `processes` producer processes go, all starting at once;
    return the rate (lines per second, from the first send to the last acknowledgement).

    One producer is one Python thread's worth of sends (~150,000/s here), no longer ten
    times what the worker folds; several processes are not bound by one interpreter.
    The lines are dealt round-robin, so each customer's events arrive in any order,
    which the fold does not mind.
    """
    context = multiprocessing.get_context("spawn")  # no copy of this process's threads
    go = context.Event()
    results: Any = context.Queue()
    senders = [
        context.Process(
            target=_burst_sender,
            args=(broker.bootstrap_servers(), topic, list(lines[i::processes]), go, results),
            daemon=True,
        )
        for i in range(processes)
    ]
    for sender in senders:
        sender.start()
    try:
        ready = [results.get(timeout=60) for _ in senders]  # connected: start together
        if any(r[0] != "ready" for r in ready):
            raise AssertionError(f"a burst sender failed to start: {ready}")
        go.set()
        spans = [results.get(timeout=timeout) for _ in senders]
    finally:
        for sender in senders:
            sender.join(10)
            if sender.is_alive():
                sender.kill()
    if any(span[0] != "sent" for span in spans):
        raise AssertionError(f"a burst sender failed: {spans}")
    started = min(span[1] for span in spans)
    return len(lines) / (max(span[2] for span in spans) - started)


def _burst_sender(bootstrap: str, topic: str, lines: list[bytes], go: Any, results: Any) -> None:
    async def send() -> None:
        producer = new_producer(bootstrap)
        await producer.start()
        try:
            results.put(("ready",))
            go.wait()
            started = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process
            for i in range(0, len(lines), 25_000):
                await send_lines(producer, topic, lines[i : i + 25_000])
            results.put(("sent", started, time.monotonic()))
        finally:
            await producer.stop()

    try:
        asyncio.run(send())
    except BaseException as exc:  # reported to the test, which fails with it
        results.put(("failed", repr(exc)))


class PeakLag:
    """The highest consumer lag of `app_id`'s group on `topics`, sampled every `every` s
    from a thread while a burst is sent."""

    def __init__(self, app_id: str, topics: Sequence[str], every: float = 0.2) -> None:
        self.app_id = app_id
        self.topics = list(topics)
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-lag", daemon=True)

    def start(self) -> PeakLag:
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(30)
        self._sample()
        return self.peak

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def _sample(self) -> None:
        self.peak = max(self.peak, lag(self.app_id, self.topics).total)


# ---------------------------------------------------------------- memory


class RssSampler:
    """Samples the resident memory of whichever workers `pids` names, every `every` s."""

    def __init__(self, workers: Callable[[], Sequence[Worker]], every: float = 0.2) -> None:
        self.workers = workers
        self.every = every
        self.max_mib = 0.0
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            for worker in self.workers():
                rss = worker.rss_mib()
                if rss is not None:
                    self.samples.append((time.monotonic(), rss))
                    self.max_mib = max(self.max_mib, rss)
            self._stop.wait(self.every)


# ---------------------------------------------------------------- convergence


def caught_up(app_id: str) -> bool:
    try:
        return lag(app_id, source_topics(app_id)).total == 0
    except MissingTopic:  # the worker has not created its internal topics yet
        return False


@dataclass(frozen=True)
class Converged:
    tally: Tally
    seconds: float  # until the states were exact (or the timeout)
    # After that, until the group had committed every offset (None: not within the wait).
    commits_s: float | None
    commit_wait: float

    def commit_note(self) -> str:
        if self.commits_s is None:
            return (
                f"group offsets NOT committed to the end {self.commit_wait:.0f} s after the "
                "states were exact"
            )
        return f"offsets committed to the end {self.commits_s:.1f} s after"


def converge(
    worker: Worker,
    expected: Snapshot,
    timeout: float,
    others: Sequence[Worker] = (),
    commit_wait: float = 60.0,
) -> Converged:
    """Wait until the worker's states equal the replay (polling its views), then up to
    `commit_wait` seconds more for the group to commit every offset.

    The states decide: they are what is compared, and once equal to the replay of the
    whole log nothing can change them (every later delivery is a duplicate). Committed
    offsets are reported apart: faust-streaming 0.15 can commit slowly after a restart
    (see the report), which costs a re-read at the next restart but loses nothing.
    """
    started = time.monotonic()
    deadline = started + timeout
    watched = [worker, *others]
    while True:
        for w in watched:
            if not w.alive():
                raise AssertionError(f"{w.name} died before the states converged\n{w.log_tail()}")
        result = tally(expected, worker.customers(), worker.reps())
        if result.exact or time.monotonic() >= deadline:
            break
        time.sleep(2.0)
    exact = time.monotonic()
    commits: float | None = None
    if result.exact:
        commit_deadline = exact + commit_wait
        while time.monotonic() < commit_deadline:
            if caught_up(worker.app_id):
                commits = time.monotonic() - exact
                break
            time.sleep(0.5)
    return Converged(result, exact - started, commits, commit_wait)


def wait_caught_up(worker: Worker, timeout: float, others: Sequence[Worker] = ()) -> None:
    """Wait until the group's lag on its source topics is 0; on timeout say where not."""
    try:
        wait_for(
            lambda: caught_up(worker.app_id),
            timeout,
            "the consumer lag to reach 0",
            [worker, *others],
            every=0.5,
        )
    except AssertionError as exc:
        try:
            per_partition = lag(worker.app_id, source_topics(worker.app_id)).per_partition
        except MissingTopic as missing:
            raise AssertionError(f"{missing}\n{exc}") from None
        behind = {f"{tp.topic}[{tp.partition}]": n for tp, n in per_partition.items() if n}
        raise AssertionError(
            f"lag per partition: {behind}; {worker.name} progress: {worker.progress()}\n{exc}"
        ) from None
