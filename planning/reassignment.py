"""An accepted pool assignment (possibly edited by the manager) as `customer_assigned` events.

Each accepted row (customer, rep) becomes one event with `rep_id` = the new owner and
`payload.by` = the manager. Its id is derived from the assignment's content (customer,
rep, manager, time), so accepting the same file twice writes the same ids and the second
time adds nothing. Rows that cannot be accepted are reported with their row number and
reason; a row whose rep was blanked out stays in the pool, on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from hashlib import blake2b

from streams.core.contract import Event, InvalidEvent, parse_time, validate
from streams.core.state import CustomerState, RepState


@dataclass(frozen=True)
class Refusal:
    row: int
    reason: str


@dataclass
class Acceptance:
    events: list[Event] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    left_in_pool: int = 0
    unchanged: int = 0  # already owned by that rep


def assignment_id(customer_id: str, rep_id: str, by: str, occurred_at: str) -> str:
    text = "\x1f".join(("customer_assigned", customer_id, rep_id, by, occurred_at))
    return f"assigned:{blake2b(text.encode(), digest_size=12).hexdigest()}"


def accept(
    rows: Iterable[tuple[int, Mapping[str, object]]],
    customers: Mapping[str, CustomerState],
    reps: Mapping[str, RepState],
    by: str,
    at: str | None = None,
) -> Acceptance:
    """Events for the rows of an assignment file (columns customer_id, rep_id, as_of).

    `at` (ISO-8601 with offset) is when the assignment takes effect; without it, each
    row's `as_of` (the time the recommendation was made for).
    """
    out = Acceptance()
    taken: dict[str, int] = {}
    for number, row in rows:
        customer = _text(row.get("customer_id"))
        rep_id = _text(row.get("rep_id"))
        if not customer:
            out.refused.append(Refusal(number, "customer_id: empty"))
            continue
        if not rep_id:
            out.left_in_pool += 1
            continue
        when = at or _text(row.get("as_of"))
        state = customers.get(customer)
        rep = reps.get(rep_id)
        reason = None
        if state is None:
            reason = f"customer_id: {customer!r} is not in the log"
        elif rep is None or not rep.active:
            reason = f"rep_id: {rep_id!r} is not an active rep in the log"
        elif customer in taken:
            reason = f"customer_id: {customer!r} is already assigned on row {taken[customer]}"
        elif not when:
            reason = "as_of: empty (give --at)"
        if reason is not None:
            out.refused.append(Refusal(number, reason))
            continue
        assert state is not None and when is not None
        taken[customer] = number
        if state.owner == rep_id and state.status != "suspended":
            out.unchanged += 1
            continue
        try:
            occurred_at, _ = parse_time(when, "as_of")
            event = validate(
                {
                    "event_id": assignment_id(customer, rep_id, by, occurred_at),
                    "type": "customer_assigned",
                    "occurred_at": occurred_at,
                    "customer_id": customer,
                    "rep_id": rep_id,
                    "payload": {"by": by},
                }
            )
        except InvalidEvent as exc:
            out.refused.append(Refusal(number, str(exc)))
            continue
        out.events.append(event)
    return out


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()
