"""The worker's table stores: RocksDB without a write-ahead log (the changelog is the log)."""

from __future__ import annotations

from pathlib import Path

from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as RocksDBStore

from streams.app import build
from streams.settings import StreamSettings
from streams.tables import WithoutWal


def _wal_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.glob("*.log"))


def _fill(options: RocksDBOptions, path: Path) -> int:
    db = options.open(path)
    for i in range(2000):
        db.put(f"customer-{i}".encode(), b"x" * 500)
    written = _wal_bytes(path)
    assert db.get(b"customer-1999") == b"x" * 500
    db.close()
    return written


def test_the_worker_stores_write_no_wal_and_keep_fausts_options(tmp_path: Path) -> None:
    fausts = RocksDBOptions(write_buffer_size=8 * 1024 * 1024, use_rocksdict=True)
    ours = WithoutWal.like(fausts)
    assert ours.write_buffer_size == fausts.write_buffer_size
    assert ours.use_rocksdict and ours.ttl is None
    # faust's own options write a log of every put; ours none.
    assert _fill(fausts, tmp_path / "fausts") > 2000 * 500
    assert _fill(ours, tmp_path / "ours") == 0
    # What was written survives a clean close (RocksDB flushes its memtables then).
    db = ours.open(tmp_path / "ours")
    assert db.get(b"customer-0") == b"x" * 500
    db.close()


def test_a_worker_table_opens_its_partitions_without_wal(tmp_path: Path) -> None:
    settings = StreamSettings(
        app_id="unit-wal", bootstrap="127.0.0.1:9", store="rocksdb://", data_dir=tmp_path
    )
    worker = build(settings)
    for table in worker.tables.all():
        store = table.data
        assert isinstance(store, RocksDBStore), table.name
        assert isinstance(store.rocksdb_options, WithoutWal), table.name
