"""The audit log: everything that grants or moves access or data.

Sensitive reads (allowed and refused), logins and failed logins, logouts, claims, pool
assignments, importance changes, need-to-know list changes and data-set exports.

An append-only JSON Lines file, one record per read, flushed to disk before the values
are sent. Each record carries the SHA-256 of the line before it (`prev`), so removing or
editing a line breaks the chain that `verify` checks. The API can read the log (admins)
but has no way to write, edit or delete it: the only writer is `AuditLog.record`, called
by the server itself. Records name the sections read, never their values.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

GENESIS: Final = "0" * 64


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: every write lands at the end, whatever else holds the file open.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._handle = os.fdopen(fd, "ab")
        self._last = _last_hash(path)

    def record(
        self,
        *,
        user: str,
        role: str,
        action: str,
        customer_id: str = "",
        sections: list[str] | None = None,
        outcome: str,
        reason: str = "",
        request_id: str = "",
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "user": user,
            "role": role,
            "action": action,
            "customer_id": customer_id,
            "sections": sections or [],
            "outcome": outcome,
            "reason": reason,
            "request_id": request_id,
            "prev": self._last,
        }
        if details:
            entry["details"] = details
        line = orjson.dumps(entry)
        self._handle.write(line + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._last = hashlib.sha256(line).hexdigest()
        return entry

    def tail(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest `limit` records, newest first."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            lines = deque((line for line in handle if line.strip()), maxlen=limit)
        return [orjson.loads(line) for line in reversed(lines)]

    def records(self, action: str) -> list[dict[str, Any]]:
        """Every record of one action, oldest first (the server's own state kept here,
        such as claims waiting for approval, is rebuilt from them at start)."""
        if not self.path.exists():
            return []
        needle = f'"action":"{action}"'.encode()
        with self.path.open("rb") as handle:
            return [orjson.loads(line) for line in handle if needle in line]

    def close(self) -> None:
        self._handle.close()


def _last_hash(path: Path) -> str:
    last = GENESIS
    with path.open("rb") as handle:
        for line in handle:
            line = line.rstrip(b"\n")
            if line:
                last = hashlib.sha256(line).hexdigest()
    return last


def verify(path: Path) -> tuple[bool, int]:
    """Check the chain; return (intact, number of the first broken line or of records)."""
    prev = GENESIS
    count = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip(b"\n")
            if not line:
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                return False, number
            if entry.get("prev") != prev:
                return False, number
            prev = hashlib.sha256(line).hexdigest()
            count += 1
    return True, count
