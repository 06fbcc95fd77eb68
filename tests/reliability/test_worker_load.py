"""Back-pressure, storage faults and model faults through the Faust worker.

- Back-pressure: the worker's sustained throughput is measured on a backlog (rep side and
  scores included), then a burst of ten times that rate for `burst_seconds` is sent by
  two producer processes at once, as fast as they go. The burst must reach ten times
  the sustained rate (one producer no longer does), the consumer lag must build up and
  then drain to 0, the worker's resident memory (sampled from /proc) must stay under a
  bound, and the states must be exact.
- Storage: the worker's local table store (its data dir) is deleted between runs, after
  a clean stop and after a SIGKILL mid-stream: the tables come back from their changelogs
  with nothing lost, and a store rebuilt after a clean stop reads no event again.
- Model faults: the worker scores with a trained model; while it runs, the artifact is
  deleted, truncated or swapped for one pickled by another scikit-learn. The worker
  (never restarted) notices, scores with the heuristic and says why, and scores with the
  model again once a good one is back. Folding never stops.
"""

from __future__ import annotations

import itertools
import shutil
import time
from pathlib import Path

import pytest

from streams.core.contract import parse
from streams.embedded.replay import replay_events
from tests.reliability.cluster import (
    PeakLag,
    Producer,
    RssSampler,
    Worker,
    burst,
    consumed,
    converge,
    create_topic,
    produce,
    wait_caught_up,
)
from tests.reliability.faults import break_model, copy_registry, mend
from tests.reliability.logs import Log
from tests.reliability.profile import Profile
from tests.reliability.table import Row, Table
from tests.support.workerproc import (
    delete_topics,
    fresh_app_id,
    wait_for,
)
from tools import broker
from training.retrain import RetrainResult

pytestmark = [pytest.mark.reliability, pytest.mark.live]


# ---------------------------------------------------------------- back-pressure


def test_a_burst_of_ten_times_the_sustained_rate_drains_in_bounded_memory(
    kafka_broker: broker.BrokerInfo, main_log: Log, profile: Profile, table: Table, tmp_path: Path
) -> None:
    app_id = fresh_app_id("cc-rel-burst")
    topic = create_topic(app_id)
    events_topic = [f"{app_id}-events"]
    worker = Worker(app_id, tmp_path).start()
    lines = main_log.lines
    n_warm = max(5_000, len(lines) // 10)
    try:
        with RssSampler(lambda: [worker]) as rss:
            # Sustained throughput: how fast the worker gets through a backlog it was
            # handed, rep side and scores included (by its own counts: the lag would
            # add the wait for its next offset commit).
            produce(topic, lines[:n_warm])
            with_rep = sum(1 for line in lines[:n_warm] if parse(line).rep_id is not None)
            wait_for(lambda: worker.progress()["messages"] > 0, 120, "folding to start", [worker])
            began, first = time.monotonic(), worker.progress()["messages"]
            wait_for(
                lambda: _through(worker.progress(), n_warm, with_rep),
                300,
                "the backlog",
                [worker],
                every=0.05,
            )
            sustained = (n_warm - first) / (time.monotonic() - began)
            wait_caught_up(worker, 120)
            calm_mib = rss.max_mib

            n_burst = min(len(lines) - n_warm, round(10 * sustained * profile.burst_seconds))
            sampling = PeakLag(app_id, events_topic).start()
            burst_rate = burst(topic, lines[n_warm : n_warm + n_burst])
            burst_end = time.monotonic()
            peak_lag = sampling.stop()
            wait_for(
                lambda: consumed(app_id) >= n_warm + n_burst, 600, "the burst to drain", [worker]
            )
            drained = time.monotonic() - burst_end
            wait_caught_up(worker, 120)
        expected = replay_events(parse(line) for line in lines[: n_warm + n_burst])
        result = converge(worker, expected, 300).tally
    finally:
        worker.stop()
        delete_topics(app_id)
    row = table.add(
        Row.from_tally(
            "back-pressure: burst at 10× sustained throughput", n_warm + n_burst, expected, result
        )
    )
    row.recovery_s = drained
    row.recovery_what = "burst end → lag 0"
    row.notes = (
        f"sustained {sustained:,.0f}/s; burst {n_burst:,} at {burst_rate:,.0f}/s "
        f"(×{burst_rate / sustained:.1f}); peak lag {peak_lag:,}; worker RSS max "
        f"{rss.max_mib:,.0f} MiB (before the burst {calm_mib:,.0f} MiB, bound "
        f"{profile.rss_limit_mib:,})"
    )
    assert result.exact, result.describe()
    assert row.exact
    # The burst really was ten times the worker's rate, and memory did not follow the
    # backlog.
    assert burst_rate >= 10 * sustained, row.notes
    assert peak_lag >= n_burst // 4, row.notes
    assert rss.max_mib < profile.rss_limit_mib, row.notes


def _through(progress: dict[str, int], messages: int, rep_events: int) -> bool:
    """The worker has folded `messages`, its rep agent `rep_events`, and scored them."""
    return (
        progress["messages"] >= messages
        and progress["rep_events"] >= rep_events
        and progress["score_backlog"] == 0
    )


# ---------------------------------------------------------------- storage faults


def test_a_deleted_table_store_is_rebuilt_from_the_changelog(
    kafka_broker: broker.BrokerInfo, small_log: Log, profile: Profile, table: Table, tmp_path: Path
) -> None:
    app_id = fresh_app_id("cc-rel-store")
    topic = create_topic(app_id)
    worker = Worker(app_id, tmp_path).start()
    lines = small_log.lines
    half = len(lines) // 2
    try:
        # 1. SIGKILL mid-stream, store deleted, restarted: the rest of the log folds onto
        #    states rebuilt from the changelogs.
        producer = Producer(topic, lines, len(lines) / 10.0).start()
        wait_for(lambda: consumed(app_id) >= half * 0.6, 120, "part of the log folded", [worker])
        worker.kill()
        assert consumed(app_id) < len(lines), "the kill must come mid-stream"
        shutil.rmtree(worker.data_dir)
        killed = time.monotonic()
        worker.start()
        producer.wait(120)
        first = converge(worker, small_log.expected, 300, commit_wait=profile.commit_wait_s)
        after_kill = time.monotonic() - killed
        # 2. A clean stop, store deleted, restarted: everything comes from the changelogs,
        #    nothing from the events topic (its offsets are committed).
        worker.stop()
        shutil.rmtree(worker.data_dir)
        restarted = time.monotonic()
        worker.start()
        second = converge(worker, small_log.expected, 300).tally
        after_stop = time.monotonic() - restarted
        reread = worker.progress()["messages"]
    finally:
        worker.stop()
        delete_topics(app_id)
    row = table.add(
        Row.from_tally(
            "storage: worker data dir deleted (after SIGKILL; after stop)",
            producer.state.sent,
            small_log.expected,
            second,
        )
    )
    row.recovery_s = max(after_kill, after_stop)
    row.recovery_what = "restart → states exact"
    row.notes = (
        f"after SIGKILL + delete: exact in {after_kill:.1f} s, {first.commit_note()}; "
        f"after stop + delete: exact in {after_stop:.1f} s, {reread} events re-read"
    )
    assert first.tally.exact, first.tally.describe()
    assert second.exact, second.describe()
    assert row.exact
    if first.commits_s is not None:
        # Every offset was committed before the clean stop: nothing may be read twice.
        assert reread == 0


# ---------------------------------------------------------------- model faults


def _scorer_of_new_scores(
    worker: Worker, slices: list[list[bytes]], k: int, topic: str, timeout: float = 120
) -> set[str]:
    """Send slice `k` of the log; wait until the score of every customer it touches
    counts all of that customer's events so far; return the scorers those scores name."""
    produce(topic, slices[k])
    so_far = replay_events(parse(line) for part in slices[: k + 1] for line in part)
    wanted = {
        e.customer_id: so_far.customers[e.customer_id].events
        for e in map(parse, slices[k])
        if e.customer_id is not None and e.customer_id in so_far.customers
    }
    scorers: dict[str, str] = {}

    def scored() -> bool:
        for customer_id, events in wanted.items():
            if customer_id not in scorers:
                score = worker.score(customer_id)
                if score is not None and score["events"] == events:
                    scorers[customer_id] = score["scorer"]
        return len(scorers) == len(wanted)

    wait_for(scored, timeout, "the new events' scores", [worker], every=1.0)
    return set(scorers.values())


def _now_scoring_with(worker: Worker, name: str, timeout: float = 60) -> float:
    """Seconds until the running worker says it scores with `name` (a prefix)."""
    started = time.monotonic()
    wait_for(
        lambda: str(worker.progress().get("scorer", "")).startswith(name),
        timeout,
        f"the worker to score with {name}",
        [worker],
    )
    return time.monotonic() - started


def test_model_faults_fall_back_to_the_heuristic_and_recover(
    kafka_broker: broker.BrokerInfo,
    small_log: Log,
    profile: Profile,
    trained_registry: tuple[Path, RetrainResult],
    table: Table,
    tmp_path: Path,
) -> None:
    """Each fault hits the model under the running worker (never restarted): it scores
    with the heuristic, and with the model again once a good one is back."""
    good = trained_registry[0]
    registry = copy_registry(good, tmp_path / "models")
    app_id = fresh_app_id("cc-rel-model")
    topic = create_topic(app_id)
    worker = Worker(
        app_id, tmp_path, model_dir=registry.root, env={"CLOSECAST_MODEL_CHECK_INTERVAL": "0.5"}
    )
    lines = small_log.lines
    # The log in slices: one for the healthy start, then one per fault and recovery.
    n_slices = 1 + 2 * len(profile.worker_model_faults)
    bounds = [round(i * len(lines) / n_slices) for i in range(n_slices + 1)]
    slices = [lines[a:b] for a, b in itertools.pairwise(bounds)]
    seen: list[str] = []
    recoveries: list[float] = []
    try:
        worker.start()
        assert all(s.startswith("model ") for s in _scorer_of_new_scores(worker, slices, 0, topic))
        for i, fault in enumerate(profile.worker_model_faults):
            break_model(registry, fault)
            noticed = _now_scoring_with(worker, "heuristic")
            fallback = _scorer_of_new_scores(worker, slices, 1 + 2 * i, topic)
            assert fallback == {"heuristic"}, (fault, fallback)
            seen.append(f"{fault} → heuristic in {noticed:.1f} s")
            mend(registry, good)
            recoveries.append(_now_scoring_with(worker, "model "))
            back = _scorer_of_new_scores(worker, slices, 2 + 2 * i, topic)
            assert all(s.startswith("model ") for s in back), (fault, back)
        # The model's return re-scored everyone, not only the customers with new events.
        first_slice = {parse(line).customer_id for line in slices[0]} - {None}
        assert all(
            str((worker.score(c) or {}).get("scorer", "")).startswith("model ")
            for c in sorted(c for c in first_slice if c)[:50]
        )
        result = converge(worker, small_log.expected, 300).tally
        alive = worker.alive() and worker.starts == 1
    finally:
        worker.stop()
        delete_topics(app_id)
    row = table.add(
        Row.from_tally(
            f"model faults ×{len(profile.worker_model_faults)} (worker, while it runs)",
            len(lines),
            small_log.expected,
            result,
        )
    )
    row.recovery_s = max(recoveries)
    row.recovery_what = "good model back → model scores"
    row.notes = "; ".join(seen) + "; one worker process throughout, model again after each"
    assert alive, "the worker stopped"
    assert result.exact, result.describe()
    assert row.exact
