"""The worker's read API: customer state, score, rep state, a rep's call list, progress.

Every view wants `Authorization: Bearer <CLOSECAST_API_TOKEN>`. There is no default
token: a worker started without one answers every view with 503 and says why, so a
forgotten variable never means open data. Faust's own table/router/stats/graph/metrics
endpoints are switched off in `streams.worker.app` (they would list table contents to anyone).

A worker answers from its own partitions only. With one worker that is every customer;
with several, a customer is served by the worker that owns its partition (404 elsewhere),
and a call list covers the customers of the asking worker's partitions.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust
import orjson
from faust.web import Request, Response, View

from features.policy import Policy
from models.scoring import Scorer, score_states
from planning.calllist import build_call_lists
from streams.core.contract import InvalidEvent, parse_as_of, to_datetime
from streams.core.snapshot import ReplayStats, Snapshot
from streams.core.state import CustomerState
from streams.worker.progress import Progress
from streams.worker.repdirectory import RepDirectory
from streams.worker.tables import Tables, decode_customer, read_rep

MAX_PAGE = 5000


@dataclass
class ApiContext:
    tables: Tables
    directory: RepDirectory
    progress: Progress
    scorer: Scorer
    policy: Policy
    token: str
    score_backlog: Callable[[], int] = lambda: 0


class Guarded(View):
    """A view that serves nobody without the bearer token."""

    ctx: ApiContext

    async def dispatch(self, request: Any) -> Any:
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        return await super().dispatch(request)

    def refusal(self, request: Any) -> Response | None:
        token = self.ctx.token
        if not token:
            return _json(
                self,
                {"error": "CLOSECAST_API_TOKEN is not set on this worker, so it serves no data"},
                status=503,
            )
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return _json(
                self,
                {"error": "send 'Authorization: Bearer <CLOSECAST_API_TOKEN>'"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="closecast"'},
            )
        return None


def _json(
    view: View, value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    # orjson: fast on big pages, and it writes the numpy floats the planners return.
    body = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
    return view.bytes(body, content_type="application/json", status=status, headers=headers)


def _customer_view(state: CustomerState) -> dict[str, Any]:
    return {
        "customer_id": state.customer_id,
        "status": state.status,
        "stage": state.stage,
        "policy_flags": state.policy_flags(),
        "state": state.to_dict(),
    }


def _limit(request: Request, default: int) -> int:
    try:
        return max(1, min(MAX_PAGE, int(request.query.get("limit", default))))
    except ValueError:
        return default


def register_views(app: faust.App, ctx: ApiContext) -> None:
    def page(path: str) -> Any:
        def decorate(cls: type[Guarded]) -> type[Guarded]:
            cls.ctx = ctx
            app.page(path)(cls)
            return cls

        return decorate

    @page("/customers/")
    class Customers(Guarded):
        """This worker's customers, a page at a time, ordered by id (`after`, `limit`)."""

        async def get(self, request: Request) -> Response:
            after = request.query.get("after", "")
            limit = _limit(request, 1000)
            keys = sorted(k.decode() for k in ctx.tables.customers)
            page_keys = [k for k in keys if k > after][:limit]
            out = {}
            for key in page_keys:
                raw = ctx.tables.customers.get(key.encode())
                if raw is not None:
                    out[key] = decode_customer(raw).to_dict()
            more = bool(page_keys) and page_keys[-1] != keys[-1]
            return _json(self, {"customers": out, "next": page_keys[-1] if more else None})

    @page("/customers/{customer_id}/")
    class Customer(Guarded):
        async def get(self, request: Request, customer_id: str) -> Response:
            raw = ctx.tables.customers.get(customer_id.encode())
            if raw is None:
                return _json(self, {"error": "no such customer on this worker"}, status=404)
            return _json(self, _customer_view(decode_customer(raw)))

    @page("/customers/{customer_id}/score/")
    class CustomerScore(Guarded):
        async def get(self, request: Request, customer_id: str) -> Response:
            raw = ctx.tables.scores.get(customer_id.encode())
            if raw is None:
                return _json(
                    self, {"error": "no score for this customer on this worker"}, status=404
                )
            return self.bytes(raw, content_type="application/json")

    @page("/reps/")
    class Reps(Guarded):
        """Every rep this worker knows (from the rep directory: all reps)."""

        async def get(self, request: Request) -> Response:
            reps = ctx.directory.snapshot()
            return _json(self, {"reps": {k: v.to_dict() for k, v in sorted(reps.items())}})

    @page("/reps/{rep_id}/")
    class Rep(Guarded):
        async def get(self, request: Request, rep_id: str) -> Response:
            rep = read_rep(ctx.tables.reps.get, rep_id.encode())
            if rep is None:
                rep = ctx.directory.snapshot().get(rep_id)
            if rep is None:
                return _json(self, {"error": "no such rep"}, status=404)
            return _json(self, {"rep_id": rep_id, "active": rep.active, "state": rep.to_dict()})

    @page("/reps/{rep_id}/calllist/")
    class CallList(Guarded):
        """Today's list for a rep, scored on read as of `as_of` (default: newest event)."""

        async def get(self, request: Request, rep_id: str) -> Response:
            owned = _owned_by(ctx, rep_id)
            as_of = ctx.progress.watermark or max((s.last_ts for s in owned), default=0)
            if "as_of" in request.query:
                try:
                    as_of = parse_as_of(request.query["as_of"])
                except InvalidEvent as exc:
                    return _json(self, {"error": str(exc)}, status=400)
            reps = ctx.directory.snapshot()
            snapshot = Snapshot({}, reps, as_of, ReplayStats())
            scores = score_states(owned, snapshot, ctx.scorer, ctx.policy)
            limit = (
                int(request.query["limit"]) if request.query.get("limit", "").isdigit() else None
            )
            lists = build_call_lists(
                {s.customer_id: s for s in owned}, reps, scores, as_of, ctx.policy, rep_id, limit
            )
            return _json(
                self,
                {
                    "rep_id": rep_id,
                    "as_of": to_datetime(as_of).isoformat() if as_of else None,
                    "scorer": ctx.scorer.name,
                    "lines": [line.to_dict() for line in lists.get(rep_id, [])],
                },
            )

    @page("/progress/")
    class Progress_(Guarded):
        async def get(self, request: Request) -> Response:
            return _json(
                self,
                {
                    **ctx.progress.to_dict(),
                    "score_backlog": ctx.score_backlog(),
                    "scorer": ctx.scorer.name,
                },
            )


def _owned_by(ctx: ApiContext, rep_id: str) -> list[CustomerState]:
    # Cheap pre-filter on the raw JSON before decoding: to_dict() writes the owner as
    # "owner":<id as JSON>, and only the matches are decoded and checked for real.
    needle = b'"owner":' + orjson.dumps(rep_id)
    out = []
    for raw in ctx.tables.customers.values():
        if needle in raw:
            state = decode_customer(raw)
            if state.owner == rep_id:
                out.append(state)
    return sorted(out, key=lambda s: s.customer_id)
