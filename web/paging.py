"""Pages of long lists, for the pages and the API alike: a limit and an opaque cursor.

A cursor is the offset of the page's first item, so a list that stays the same pages the
same; a cursor past the end gives an empty page, never an error. Every page says how
many items the whole list has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from web.errors import HttpError

T = TypeVar("T")
DEFAULT_LIMIT: Final = 25
MAX_LIMIT: Final = 500


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int

    @property
    def next_cursor(self) -> str | None:
        end = self.offset + self.limit
        return str(end) if end < self.total else None

    @property
    def prev_cursor(self) -> str | None:
        return str(max(0, self.offset - self.limit)) if self.offset > 0 else None

    @property
    def first(self) -> int:
        """The 1-based number of the page's first item (0 on an empty page)."""
        return self.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.items)

    def meta(self) -> dict[str, object]:
        return {
            "total": self.total,
            "limit": self.limit,
            "cursor": str(self.offset),
            "next_cursor": self.next_cursor,
        }


def _int(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise HttpError(400, f"{name}: must be a whole number", field=name) from None
    if not low <= value <= high:
        raise HttpError(400, f"{name}: must be between {low} and {high}", field=name)
    return value


def page_of(
    items: Sequence[T], query: Mapping[str, str], default_limit: int = DEFAULT_LIMIT
) -> Page[T]:
    """The page `?limit=&cursor=` asks for (400 naming the parameter if either is bad)."""
    limit = _int(query.get("limit"), "limit", default_limit, 1, MAX_LIMIT)
    offset = _int(query.get("cursor"), "cursor", 0, 0, 10**12)
    return Page(list(items[offset : offset + limit]), len(items), offset, limit)
