"""Reps' call lists, cached per (rep, version) so a busy morning costs one build per rep.

A list is built by the planning code itself (`planning.calllist.call_lists`) over the
rep's own customers only, so it equals what `closecast calllist` prints without scanning
every customer. It holds every customer the rep may contact today, in order; the first
`daily_capacity` lines are today's list, the rest are what paging and filters reach. A
rep's version moves when anything about its customers changes (an event, a re-score, an
owner change) and when the ledger is re-scored as a whole; until then the cached list,
with today's part already encoded as JSON, is served as it is. That is what keeps the
call-list endpoint fast at hundreds of requests per second over 100,000 customers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from features.policy import Policy
from planning.book import build_book
from planning.calllist import DUE_STATES, CallLine, call_lists, due_counts
from planning.contacts import contact_of
from streams.core.contract import to_datetime
from web.errors import HttpError
from web.ledger import Ledger

# How a list can be sorted: its own order (rank) or by one column, each in the order a
# rep wants it (highest value first, the longest silence first...).
SORTS: Final = {
    "rank": (lambda x: x.rank, False),
    "value": (lambda x: x.predicted_value, True),
    "chance": (lambda x: x.p_close, True),
    "silence": (lambda x: -1.0 if x.days_since_contact is None else x.days_since_contact, True),
    "company": (lambda x: x.contact.company or x.customer_id, False),
    "trend": (lambda x: x.trend_change or 0.0, True),
}
FILTERS: Final = ("status", "stage", "tier", "due")


@dataclass(frozen=True, slots=True)
class CallList:
    rep_id: str
    version: int
    as_of: int
    owned: int
    lines: tuple[CallLine, ...]  # everyone the rep may contact today, in order
    today: int  # how many of `lines` are today's list (the daily capacity)
    rep_name: str
    body: bytes  # the JSON the API sends for today's list

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.body)
        return data

    @property
    def counts(self) -> dict[str, int]:
        return due_counts(list(self.lines))

    def select(self, query: Mapping[str, str]) -> list[CallLine]:
        """The lines `?status=&stage=&tier=&due=&sort=` ask for (400 on an unknown value)."""
        lines = list(self.lines)
        for name in FILTERS:
            wanted = query.get(name, "")
            if not wanted:
                continue
            attribute = "due_state" if name == "due" else name
            if name == "due" and wanted not in DUE_STATES:
                raise HttpError(400, f"due: must be one of {', '.join(DUE_STATES)}", field="due")
            lines = [x for x in lines if getattr(x, attribute) == wanted]
        sort = query.get("sort", "") or "rank"
        if sort not in SORTS:
            raise HttpError(400, f"sort: must be one of {', '.join(SORTS)}", field="sort")
        key, descending = SORTS[sort]
        return sorted(lines, key=key, reverse=descending)


class CallListCache:
    def __init__(self, ledger: Ledger, policy: Policy) -> None:
        self.ledger = ledger
        self.policy = policy
        self._lists: dict[str, CallList] = {}
        self.builds = 0

    def get(self, rep_id: str) -> CallList:
        version = self.ledger.rep_version(rep_id)
        cached = self._lists.get(rep_id)
        if cached is not None and cached.version == version:
            return cached
        fresh = self._build(rep_id, version)
        self._lists[rep_id] = fresh
        return fresh

    def _build(self, rep_id: str, version: int) -> CallList:
        self.builds += 1
        ledger = self.ledger
        owned = ledger.owned_by(rep_id)
        as_of = ledger.as_of
        lines: list[CallLine] = []
        if owned:
            frame = ledger.scores_frame(owned)
            states = {s.customer_id: s for s in owned}
            book = build_book(states, ledger.reps, frame, as_of)
            contacts = {s.customer_id: contact_of(ledger.portrait(s.customer_id)) for s in owned}
            lines = call_lists(book, self.policy, rep_id, len(owned), contacts, ledger.earlier).get(
                rep_id, []
            )
        rep = ledger.reps.get(rep_id)
        rep_name = (rep.name if rep is not None else None) or ""
        today = min(len(lines), self.policy.daily_capacity)
        body = orjson.dumps(
            {
                "rep_id": rep_id,
                "rep_name": rep_name,
                "as_of": to_datetime(as_of).isoformat() if as_of else None,
                "owned": len(owned),
                "total": len(lines),
                "counts": due_counts(lines),
                "lines": [line.to_dict() for line in lines[:today]],
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        return CallList(rep_id, version, as_of, len(owned), tuple(lines), today, rep_name, body)
