"""What every handler works with: the services of the running server and the caller."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from features.policy import Policy
from models.scoring import Scorer
from web.access import Access
from web.audit import AuditLog
from web.calllists import CallListCache
from web.claims import ClaimRequests
from web.ledger import Ledger
from web.logins import LoginLimiter
from web.pseudonym import Pseudonymiser
from web.sessions import Session, SessionSigner
from web.settings import Settings
from web.source import StateSource
from web.users import User, UserDirectory


@dataclass
class Services:
    settings: Settings
    source: StateSource
    users: UserDirectory
    signer: SessionSigner
    access: Access
    audit: AuditLog
    pseudonymise: Pseudonymiser
    calllists: CallListCache
    scorer: Scorer
    policy: Policy
    model_dir: Path | None
    logins: LoginLimiter
    claim_requests: ClaimRequests

    @property
    def ledger(self) -> Ledger:
        return self.source.ledger


@dataclass(frozen=True)
class Caller:
    user: User
    session: Session
    via_cookie: bool
    request_id: str


SERVICES = web.AppKey("services", Services)
CALLER_KEY = web.RequestKey("caller", Caller)
REQUEST_ID = web.RequestKey("request_id", str)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def caller(request: web.Request) -> Caller:
    found = request.get(CALLER_KEY)
    if found is None:
        raise RuntimeError("handler reached without authentication")
    return found
