"""The route table: every endpoint once, with the roles it admits and its documentation.

The server registers its routes from this table and `/openapi.json` is generated from it,
so the API document cannot drift from what is served. The roles here are the first gate;
each view checks the object itself (which customer, which rep) as the second.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ALL_ROLES: Final = ("rep", "manager", "analyst", "admin")


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "path" or "query"
    description: str
    required: bool = False


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    roles: tuple[str, ...]
    summary: str
    params: tuple[Param, ...] = ()
    body: dict[str, Any] | None = None
    content: str = "application/json"
    public: bool = False
    page: bool = False  # an HTML page or form target rather than a JSON endpoint
    responses: dict[int, str] = field(default_factory=dict)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__
