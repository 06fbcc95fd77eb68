"""Reps' call lists, cached per (rep, version) so a busy morning costs one build per rep.

A list is built by the planning code itself (`planning.calllist.call_lists`) over the
rep's own customers only, so it equals what `closecast calllist` prints without scanning
every customer. A rep's version moves when anything about its customers changes (an
event, a re-score, an owner change) and when the ledger is re-scored as a whole; until
then the cached list, already encoded as JSON, is served as it is. That is what keeps
the call-list endpoint fast at hundreds of requests per second over 100,000 customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from features.policy import Policy
from planning.book import build_book
from planning.calllist import CallLine, call_lists
from streams.core.contract import to_datetime
from web.ledger import Ledger


@dataclass(frozen=True, slots=True)
class CallList:
    rep_id: str
    version: int
    as_of: int
    owned: int
    lines: tuple[CallLine, ...]
    body: bytes  # the JSON the API sends

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.body)
        return data


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
            lines = call_lists(book, self.policy, rep_id).get(rep_id, [])
        body = orjson.dumps(
            {
                "rep_id": rep_id,
                "as_of": to_datetime(as_of).isoformat() if as_of else None,
                "owned": len(owned),
                "lines": [line.to_dict() for line in lines],
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        return CallList(rep_id, version, as_of, len(owned), tuple(lines), body)
