"""What a log already holds, so importers append only what is new.

The fold ignores a repeated event_id anyway; skipping them here keeps the log from
growing with every re-import.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.core.log import read_lines


def known_in_log(path: Path) -> tuple[set[str], set[str]]:
    """(event ids, customer ids) already in a log file; unreadable lines are skipped here
    (replay reports them)."""
    ids: set[str] = set()
    customers: set[str] = set()
    if not path.exists():
        return ids, customers
    for line in read_lines([path]):
        try:
            obj = orjson.loads(line.raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            if isinstance(obj.get("event_id"), str):
                ids.add(obj["event_id"])
            if isinstance(obj.get("customer_id"), str):
                customers.add(obj["customer_id"])
    return ids, customers
