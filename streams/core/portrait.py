"""The portrait store: each customer's portrait *values*, folded from `portrait_updated`.

The per-customer state (`streams.core.state`) knows only which sections are known; the values
live here, apart, because `deep` and `extended` hold personal and internal information
that only a few people may read (`docs/domain.md`, principle 4). Keeping them out of the state
keeps them out of everything derived from it: changelogs, scores, exports, call lists.
Whoever serves this store decides who reads what (see `web.access`).

Like the fold, it is pure and order-free: every field is a last-writer-wins register
keyed by the contract's order `(occurred_at, event_id)`, so any order and any number of
repeats of the same events give the same portrait. A section that arrives with no fields
is still known (the stage counts it), with nothing in it yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from streams.core.contract import SECTIONS, SENSITIVE_SECTIONS, Event

Key = tuple[int, str]
Value = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Entry:
    """One field's current value, with the event that set it and who learned it."""

    key: Key
    value: Value
    rep_id: str | None


@dataclass(frozen=True, slots=True)
class Section:
    """One section of one portrait: its fields and its newest update."""

    updated: Key
    updated_by: str | None
    fields: tuple[tuple[str, Entry], ...]

    def values(self) -> dict[str, Value]:
        return {name: entry.value for name, entry in self.fields}


class Portrait:
    """One customer's portrait. Immutable from outside: `apply` returns a new one."""

    __slots__ = ("customer_id", "sections")

    def __init__(self, customer_id: str, sections: dict[str, Section] | None = None) -> None:
        self.customer_id = customer_id
        self.sections: dict[str, Section] = dict(sections or {})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Portrait):
            return NotImplemented
        return self.customer_id == other.customer_id and self.sections == other.sections

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        # Names only: a repr ends up in logs and tracebacks, values must not.
        return f"Portrait({self.customer_id!r}, sections={sorted(self.sections)})"

    def known(self) -> tuple[str, ...]:
        """The sections known, in the contract's order."""
        return tuple(name for name in SECTIONS if name in self.sections)

    def view(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The named sections (those known) as plain data, for a reader allowed them."""
        wanted = set(names)
        out: dict[str, dict[str, Any]] = {}
        for name in SECTIONS:
            section = self.sections.get(name)
            if section is None or name not in wanted:
                continue
            out[name] = {
                "updated_at_us": section.updated[0],
                "updated_by": section.updated_by,
                "fields": section.values(),
            }
        return out

    def plain(self) -> dict[str, dict[str, Any]]:
        """The sections anyone who may see the customer may read."""
        return self.view(n for n in SECTIONS if n not in SENSITIVE_SECTIONS)

    def sensitive(self) -> dict[str, dict[str, Any]]:
        """`deep` and `extended`: only through `web.access` and the audit log."""
        return self.view(SENSITIVE_SECTIONS)


def _merged(old: Section | None, event: Event) -> Section:
    key = event.key
    fields: dict[str, Entry] = dict(old.fields) if old else {}
    for name, value in event.payload.get("fields", {}).items():
        current = fields.get(name)
        if current is None or key > current.key:
            fields[name] = Entry(key, value, event.rep_id)
    if old is None or key > old.updated:
        updated, updated_by = key, event.rep_id
    else:
        updated, updated_by = old.updated, old.updated_by
    return Section(updated, updated_by, tuple(sorted(fields.items())))


def apply(portrait: Portrait | None, event: Event) -> Portrait:
    """Fold one event into a portrait; events other than `portrait_updated` change nothing."""
    if event.type != "portrait_updated" or event.customer_id is None:
        return portrait if portrait is not None else Portrait(event.customer_id or "")
    section = event.payload["section"]
    base = portrait if portrait is not None else Portrait(event.customer_id)
    new = Portrait(base.customer_id, base.sections)
    new.sections[section] = _merged(base.sections.get(section), event)
    return new


class PortraitStore:
    """Every customer's portrait, folded in place (the store owns its portraits)."""

    def __init__(self) -> None:
        self._portraits: dict[str, Portrait] = {}

    def feed(self, event: Event) -> bool:
        """Fold one event; return True if it was a portrait update."""
        if event.type != "portrait_updated" or event.customer_id is None:
            return False
        cid = event.customer_id
        self._portraits[cid] = apply(self._portraits.get(cid), event)
        return True

    def get(self, customer_id: str) -> Portrait | None:
        return self._portraits.get(customer_id)

    def __len__(self) -> int:
        return len(self._portraits)

    def __iter__(self) -> Iterator[str]:
        return iter(self._portraits)


def fold_portraits(events: Iterable[Event]) -> dict[str, Portrait]:
    """The portraits of a set of events (for tests and one-off reads)."""
    store = PortraitStore()
    for event in events:
        store.feed(event)
    return {cid: p for cid in store if (p := store.get(cid)) is not None}
