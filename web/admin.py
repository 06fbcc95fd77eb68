"""What an admin sees: the audit log (read only) and who may read what.

Admins run the server; they do not read customers. The audit log is shown, never
changed: there is no route that writes, edits or deletes it.
"""

from __future__ import annotations

from typing import Any

from web.audit import verify
from web.context import Caller, Services
from web.errors import HttpError, forbidden


def _require_admin(who: Caller) -> None:
    if who.user.role != "admin":
        raise forbidden("admins only")


def audit(svc: Services, who: Caller, limit: str | None) -> dict[str, Any]:
    _require_admin(who)
    try:
        count = 200 if limit in (None, "") else int(limit)
    except ValueError:
        raise HttpError(400, "limit: must be a whole number", field="limit") from None
    if not 1 <= count <= 10_000:
        raise HttpError(400, "limit: must be between 1 and 10000", field="limit")
    intact, checked = verify(svc.audit.path) if svc.audit.path.exists() else (True, 0)
    return {
        # The file's name, never its path on the server.
        "path": svc.audit.path.name,
        "chain_intact": intact,
        "records_checked" if intact else "first_broken_line": checked,
        "records": svc.audit.tail(count),
    }


def access(svc: Services, who: Caller) -> dict[str, Any]:
    _require_admin(who)
    return {
        "users": [
            {"id": u.id, "role": u.role, "rep_id": u.rep_id, "team": u.team}
            for u in svc.users.all()
        ],
        "need_to_know": svc.access.need_to_know.entries(),
        "need_to_know_file": svc.access.need_to_know.path.name
        if svc.access.need_to_know.path
        else "",
        # Restricted for good: ever VVIP or ever listed (the tier cannot reopen them).
        "restricted_customers": sorted(
            svc.ledger.ever_vvip | svc.access.ever_listed | set(svc.access.need_to_know.entries())
        ),
        "importance_editors": sorted(svc.settings.importance_editors),
        "pool_readers": sorted(svc.settings.pool_readers),
        "claims_per_day": svc.settings.claims_per_day,
    }
