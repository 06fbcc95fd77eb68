"""The OpenAPI 3 document of the API, generated from the route table (`web.api`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from web.routes import Route

_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "status": {"type": "integer"},
        "field": {"type": "string", "description": "the request field at fault, if one"},
    },
}
_STANDARD = {
    400: "malformed request (the field is named)",
    401: "not logged in",
    403: "not allowed for this user (role, owner, team or need-to-know)",
    404: "unknown id",
    413: "body too large",
}


def document(routes: Iterable[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if route.page:
            continue
        operation: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "description": "roles: " + ", ".join(route.roles),
            "responses": _responses(route),
        }
        if route.public:
            operation["security"] = []
        if route.params:
            operation["parameters"] = [
                {
                    "name": p.name,
                    "in": p.where,
                    "required": p.required or p.where == "path",
                    "description": p.description,
                    "schema": {"type": "string"},
                }
                for p in route.params
            ]
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": route.body}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "closecast",
            "version": "1",
            "description": "Call lists, customers, the pool and reports for a B2B sales team. "
            "Every request but /health and /api/login needs a session: a bearer token from "
            "POST /api/login, or the page's session cookie (then POSTs need X-CSRF-Token).",
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "closecast_session"},
            },
            "schemas": {"Error": _ERROR},
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": paths,
    }


def _responses(route: Route) -> dict[str, Any]:
    ok = 201 if route.method == "POST" and 201 in route.responses else 200
    out: dict[str, Any] = {
        str(ok): {
            "description": route.responses.get(ok, "OK"),
            "content": {route.content: {"schema": {"type": "object"}}}
            if route.content == "application/json"
            else {route.content: {"schema": {"type": "string"}}},
        }
    }
    errors = dict(_STANDARD)
    errors.update({k: v for k, v in route.responses.items() if k >= 400})
    if route.body is None:
        errors.pop(413, None)
    for status, text in sorted(errors.items()):
        out[str(status)] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return out
