"""Errors a request can end in, each with its status and a message fit to show anyone.

Messages name ids and fields, never a portrait value or a body the client sent: an error
is shown, logged and sometimes copied into tickets, all places sensitive data must not go.
"""

from __future__ import annotations

from typing import Any


class HttpError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message, "status": self.status}
        if self.field is not None:
            out["field"] = self.field
        return out


def not_found(what: str, ident: str) -> HttpError:
    # Ids are echoed cut short and only as ids: a path is not a place for portrait values.
    return HttpError(404, f"no {what} {ident[:64]!r}")


def forbidden(message: str) -> HttpError:
    return HttpError(403, message)
