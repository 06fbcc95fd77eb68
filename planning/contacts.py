"""Whom a rep calls: company, contact name and phone, from a portrait's `basic` section.

`basic` holds contact details (the contract's sections), not sensitive information, so a
rep's own list may show it; `deep`, `extended` and notes never come through here. Teams
name the fields differently (a sheet's "電話" becomes `phone`, a form may say `tel`), so
each detail is the first of a few usual names that the section holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from streams.core.contract import Event
from streams.core.portrait import Portrait, PortraitStore

_COMPANY: Final = ("company", "company_name", "organisation", "organization", "name")
_PERSON: Final = ("contact_name", "contact", "person")
_PHONE: Final = ("phone", "tel", "mobile", "telephone")


@dataclass(frozen=True, slots=True)
class Contact:
    company: str = ""
    contact_name: str = ""
    phone: str = ""


NOBODY: Final = Contact()


def _first(fields: Mapping[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = fields.get(name)
        if value is not None and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return ""


def contact_of(portrait: Portrait | None) -> Contact:
    """The contact details of a portrait (empty strings where `basic` says nothing)."""
    if portrait is None or "basic" not in portrait.sections:
        return NOBODY
    fields = portrait.sections["basic"].values()
    return Contact(_first(fields, _COMPANY), _first(fields, _PERSON), _first(fields, _PHONE))


def contacts_from_events(events: Iterable[Event], as_of: int | None = None) -> dict[str, Contact]:
    """Every customer's contact details from `basic` updates up to `as_of`."""
    store = PortraitStore()
    for event in events:
        if event.type != "portrait_updated" or event.payload.get("section") != "basic":
            continue
        if as_of is None or event.ts <= as_of:
            store.feed(event)
    return {cid: contact_of(store.get(cid)) for cid in store}
