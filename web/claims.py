"""Claims that wait for a manager (`CLOSECAST_CLAIM_APPROVAL=1`).

A request assigns nothing: it is audited (`claim_requested`) and listed for the team's
managers in the pool view, who accept it through the ordinary assignments. The audit log
is the durable record, so the list is rebuilt from it at start; a request ends when its
customer leaves the pool (accepted, or assigned to someone else).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.core.state import CustomerState
from web.audit import AuditLog


class ClaimRequests:
    def __init__(self) -> None:
        self._pending: dict[str, dict[str, Any]] = {}
        self._per_day: dict[tuple[str, int], int] = {}

    @classmethod
    def from_audit(cls, audit: AuditLog) -> ClaimRequests:
        requests = cls()
        for record in audit.records("claim_requested"):
            details = record.get("details") or {}
            rep_id, day = str(details.get("rep_id", "")), int(details.get("day", 0))
            requests.add(record["customer_id"], rep_id, record["user"], day)
        return requests

    def add(self, customer_id: str, rep_id: str, user: str, day: int) -> None:
        self._pending[customer_id] = {"customer_id": customer_id, "rep_id": rep_id, "by": user}
        self._per_day[(user, day)] = self._per_day.get((user, day), 0) + 1

    def count_on(self, user: str, day: int) -> int:
        return self._per_day.get((user, day), 0)

    def pending(self, pool: Mapping[str, CustomerState]) -> list[dict[str, Any]]:
        """The requests whose customer is still in the pool, by customer id."""
        for cid in [c for c in self._pending if c not in pool]:
            del self._pending[cid]
        return [self._pending[c] for c in sorted(self._pending)]
