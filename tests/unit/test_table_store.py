"""The worker's table write path into faust's RocksDB store, without a broker: a batch's
writes land as one RocksDB write batch per partition, each key in its own partition, and
faust's own reads (its key index, its current event) find them as if faust's setter had
written them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.worker.app import create_app
from streams.worker.settings import StreamSettings
from streams.worker.tables import TrackedTable, acting_for, define_tables, place

RECORDS = [
    (b"c000001", b'{"n":1}', 0),
    (b"c000002", b'{"n":2}', 2),
    (b"c000003", b'{"n":3}', 2),
    (b"c000004", b'{"n":4}', 3),
    (b"c000002", b'{"n":22}', 2),  # written twice in one batch: the last value stays
]


def _table(tmp_path: Path, store: str) -> TrackedTable:
    settings = StreamSettings(
        app_id=f"t-{store.rstrip(':/')}", store=store, data_dir=tmp_path, partitions=4
    )
    app = create_app(settings)
    return define_tables(app, settings, 1_000_000).customers


def _read(table: TrackedTable, key: bytes, partition: int) -> Any:
    with acting_for(place(table.changelog_topic.get_topic_name(), partition)):
        return table.data.get(key)


class _CountingDb:
    def __init__(self, db: Any, partition: int, writes: list[int]) -> None:
        self.db, self.partition, self.writes = db, partition, writes

    def write(self, batch: Any) -> None:
        self.writes.append(self.partition)
        self.db.write(batch)


def test_a_batch_is_one_rocksdb_write_per_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = _table(tmp_path, "rocksdb://")
    store: Any = table.data
    assert store.use_rocksdict  # the real RocksDB store, not memory://
    db_for_partition = store._db_for_partition
    writes: list[int] = []
    monkeypatch.setattr(
        store, "_db_for_partition", lambda p: _CountingDb(db_for_partition(p), p, writes)
    )
    table._write_local(table.changelog_topic.get_topic_name(), RECORDS)
    assert sorted(writes) == [0, 2, 3]


def test_each_key_lands_in_its_own_partition_only(tmp_path: Path) -> None:
    table = _table(tmp_path, "rocksdb://")
    store: Any = table.data
    table._write_local(table.changelog_topic.get_topic_name(), RECORDS)
    held = {p: sorted(store._db_for_partition(p).keys()) for p in range(4)}
    assert held == {
        0: [b"c000001"],
        1: [],
        2: [b"c000002", b"c000003"],
        3: [b"c000004"],
    }


def test_faust_reads_what_was_written_even_without_its_key_index(tmp_path: Path) -> None:
    table = _table(tmp_path, "rocksdb://")
    store: Any = table.data
    table._write_local(table.changelog_topic.get_topic_name(), RECORDS)
    expected = {b"c000001": b'{"n":1}', b"c000002": b'{"n":22}', b"c000004": b'{"n":4}'}
    partition = {b"c000001": 0, b"c000002": 2, b"c000004": 3}
    assert {k: _read(table, k, partition[k]) for k in expected} == expected
    store._key_index.clear()  # as after a restart: faust looks the key up in each partition
    assert {k: _read(table, k, partition[k]) for k in expected} == expected
    assert _read(table, b"c999999", 1) is None


def test_the_rocksdb_path_reads_back_as_the_memory_store(tmp_path: Path) -> None:
    stores = {}
    for url in ("rocksdb://", "memory://"):
        table = _table(tmp_path / url.rstrip(":/"), url)
        table._write_local(table.changelog_topic.get_topic_name(), RECORDS)
        stores[url] = {k: _read(table, k, p) for k, _, p in RECORDS}
    assert stores["rocksdb://"] == stores["memory://"]
    assert stores["memory://"][b"c000002"] == b'{"n":22}'
