"""Turning what a person typed (a form, or the API's JSON) into a contract event.

The server fills in what the person cannot be trusted with or should not have to type:
a fresh `event_id`, the `customer_id` from the page, the caller's own `rep_id`, and
`occurred_at` (now, unless given). The result is validated by the contract itself, so a
bad value is refused with the contract's own message naming the field (422).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from streams.core.contract import Event, InvalidEvent, parse_time, to_datetime, validate
from streams.core.held import is_ahead
from web.errors import HttpError
from web.users import User

# What each role may record on a customer it may change (assignment has its own routes).
REP_TYPES: Final = (
    "contact_made",
    "portrait_updated",
    "need_identified",
    "quote_sent",
    "order_won",
    "order_lost",
    "complaint_received",
)
MANAGER_TYPES: Final = (*REP_TYPES, "importance_set")

_NUMBERS: Final = frozenset({"amount", "expected_value", "potential_value"})
_BOOLEANS: Final = frozenset({"effective", "clear_need", "never_suspend"})
# Form inputs that belong to each type's payload (the rest of a posted form is ignored).
_FORM_FIELDS: Final = {
    "contact_made": ("channel", "effective", "note"),
    "portrait_updated": ("section",),
    "need_identified": ("clear_need", "expected_value", "due_date"),
    "quote_sent": ("quote_id", "amount"),
    "order_won": ("order_id", "amount"),
    "order_lost": ("reason", "quote_id"),
    "complaint_received": ("severity",),
    "importance_set": ("tier", "never_suspend"),
}


_AMOUNTS: Final = ("amount", "expected_value", "potential_value")


@dataclass(frozen=True)
class Entry:
    """The server's side of an entry: its clock, and how far a person may move off it.

    `now` is the server's "today" (the wall clock, or for `--clock log` the log's own
    clock); `received` the wall-clock time the entry came in. Past the skew ahead of
    `now` an entry is held (`hold_future`, the live clock) or refused (the log's clock,
    which an entry must not push on).
    """

    now: int
    received: int
    backdate_us: int
    skew_us: int
    max_amount: float
    hold_future: bool = True


def iso(ts: int) -> str:
    return to_datetime(ts).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _when(occurred_at: object, entry: Entry) -> str:
    """The entry's `occurred_at`: the server's now, or a time the person gave, checked."""
    if occurred_at in (None, ""):
        return iso(entry.now)
    if not isinstance(occurred_at, str):
        raise HttpError(422, "occurred_at: must be an ISO 8601 time", field="occurred_at")
    try:
        ts = parse_time(occurred_at, "occurred_at")[1]
    except InvalidEvent as exc:
        raise HttpError(422, str(exc), field="occurred_at") from None
    if ts < entry.now - entry.backdate_us:
        days = entry.backdate_us / 86_400_000_000
        raise HttpError(
            422,
            f"occurred_at: more than {days:g} days before the server's today "
            f"({iso(entry.now)[:10]}); older entries need an import (CLOSECAST_BACKDATE_DAYS)",
            field="occurred_at",
        )
    if not entry.hold_future and is_ahead(ts, entry.now, entry.skew_us):
        raise HttpError(
            422,
            f"occurred_at: ahead of the server's clock ({iso(entry.now)})",
            field="occurred_at",
        )
    return occurred_at


def _sane(payload: object, entry: Entry) -> None:
    if not isinstance(payload, Mapping):
        return
    for name in _AMOUNTS:
        value = payload.get(name)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and abs(value) > entry.max_amount:  # type: ignore[arg-type]
            raise HttpError(
                422,
                f"payload.{name}: {value:,.0f} is above the plausible limit of "
                f"{entry.max_amount:,.0f} (CLOSECAST_MAX_AMOUNT); check the figure",
                field=f"payload.{name}",
            )


def allowed_types(user: User) -> tuple[str, ...]:
    return MANAGER_TYPES if user.role == "manager" else REP_TYPES if user.role == "rep" else ()


def build_event(
    kind: object,
    payload: object,
    *,
    customer_id: str,
    user: User,
    entry: Entry,
    occurred_at: object = None,
) -> Event:
    if not isinstance(kind, str) or kind not in allowed_types(user):
        raise HttpError(
            422,
            f"type: must be one of {', '.join(allowed_types(user))}",
            field="type",
        )
    when = _when(occurred_at, entry)
    _sane(payload, entry)
    if isinstance(payload, Mapping):
        # Who entered it and when the server got it: unknown payload fields are part of
        # the contract, and these are the server's, whatever the body said.
        payload = {**payload, "entered_by": user.id, "entered_at": iso(entry.received)}
    raw: dict[str, Any] = {
        "event_id": f"web-{uuid.uuid4().hex}",
        "type": kind,
        "occurred_at": when,
        "customer_id": customer_id,
        "rep_id": user.rep_id,
        "payload": payload,
    }
    try:
        return validate(raw)
    except InvalidEvent as exc:
        raise _refusal(exc) from None


def _refusal(exc: InvalidEvent) -> HttpError:
    """422 naming the field; a portrait field is named by its section only.

    The contract names the offending portrait field (`payload.fields.<name>`); a name can
    say as much as a value ("divorce_lawyer"), so the answer stops at `payload.fields`.
    """
    field, _, problem = str(exc).partition(": ")
    if field.startswith("payload.fields."):
        return HttpError(422, f"payload.fields: a field {problem}", field="payload.fields")
    return HttpError(422, str(exc), field=field)


def event_from_json(body: object, *, customer_id: str, user: User, entry: Entry) -> Event:
    if not isinstance(body, Mapping):
        raise HttpError(400, "body: must be a JSON object", field="body")
    return build_event(
        body.get("type"),
        body.get("payload", {}),
        customer_id=customer_id,
        user=user,
        entry=entry,
        occurred_at=body.get("occurred_at"),
    )


def event_from_form(
    form: Mapping[str, str], *, customer_id: str, user: User, entry: Entry
) -> Event:
    kind = form.get("type", "")
    payload: dict[str, Any] = {}
    for name in _FORM_FIELDS.get(kind, ()):
        text = form.get(name, "").strip()
        if name in _BOOLEANS:
            # An unticked box sends nothing: that is "false", except where the contract
            # defaults to true and the form shows the box ticked.
            payload[name] = text in ("on", "true", "1", "yes")
        elif text == "":
            continue
        elif name in _NUMBERS:
            payload[name] = _number(text, name)
        else:
            payload[name] = text
    if kind == "contact_made" and form.get("not_effective", "") in ("on", "true", "1", "yes"):
        # The call list's quick form: "not effective" (not reached) overrides its default.
        payload["effective"] = False
    if kind == "portrait_updated":
        payload["fields"] = parse_field_lines(form.get("fields", ""))
    return build_event(
        kind,
        payload,
        customer_id=customer_id,
        user=user,
        entry=entry,
        occurred_at=form.get("occurred_at"),
    )


def _number(text: str, name: str) -> float:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        raise HttpError(422, f"payload.{name}: must be a number", field=f"payload.{name}") from None


def parse_field_lines(text: str) -> dict[str, str]:
    """Portrait fields typed one per line as `name: value`."""
    fields: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            # Say which line, never what it said: it may be a sensitive value.
            raise HttpError(
                422,
                f"payload.fields: line {number} is not 'name: value'",
                field="payload.fields",
            )
        fields[name.strip()] = value.strip()
    return fields


def assignment_event(customer_id: str, rep_id: str, by: str, entry: Entry) -> Event:
    """A `customer_assigned`: the new owner is the event's rep, the assigner in `by`."""
    try:
        return validate(
            {
                "event_id": f"web-{uuid.uuid4().hex}",
                "type": "customer_assigned",
                "occurred_at": iso(entry.now),
                "customer_id": customer_id,
                "rep_id": rep_id,
                "payload": {"by": by, "entered_by": by, "entered_at": iso(entry.received)},
            }
        )
    except InvalidEvent as exc:
        raise _refusal(exc) from None
