"""Sessions and API tokens: one signed, expiring token, carried in a cookie or a header.

    v1.<base64url payload>.<base64url HMAC-SHA256(secret, payload)>

The payload names the user, the expiry and a random session id. Nothing is stored
server-side but the ids of sessions that logged out, so any number of server processes
verify tokens with the secret alone. Pages send it as an HttpOnly, SameSite=Strict
cookie; scripts send it as `Authorization: Bearer <token>` (from `POST /api/login`).
Form posts carry a CSRF token derived from the session id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Final

import orjson

COOKIE: Final = "closecast_session"
_PREFIX: Final = "v1"


@dataclass(frozen=True, slots=True)
class Session:
    user_id: str
    expires: int
    sid: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, secret: bytes, hours: float) -> None:
        self._key = hmac.new(secret, b"closecast session v1", hashlib.sha256).digest()
        self._csrf_key = hmac.new(secret, b"closecast csrf v1", hashlib.sha256).digest()
        self.seconds = int(hours * 3600)
        self._revoked: dict[str, int] = {}

    def issue(self, user_id: str, now: float | None = None) -> tuple[str, Session]:
        expires = int(now if now is not None else time.time()) + self.seconds
        session = Session(user_id, expires, secrets.token_hex(16))
        body = _b64(orjson.dumps({"u": user_id, "exp": expires, "sid": session.sid}))
        return f"{_PREFIX}.{body}.{self._sign(body)}", session

    def verify(self, token: str, now: float | None = None) -> Session | None:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX:
            return None
        _, body, signature = parts
        if not hmac.compare_digest(self._sign(body), signature):
            return None
        try:
            data = orjson.loads(_unb64(body))
            session = Session(str(data["u"]), int(data["exp"]), str(data["sid"]))
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None
        if session.expires <= (now if now is not None else time.time()):
            return None
        if session.sid in self._revoked:
            return None
        return session

    def revoke(self, session: Session) -> None:
        self._revoked[session.sid] = session.expires
        # Forget revocations of sessions that expired anyway.
        now = time.time()
        for sid in [s for s, exp in self._revoked.items() if exp <= now]:
            del self._revoked[sid]

    def csrf(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).hexdigest()[:32]

    def check_csrf(self, session: Session, token: str) -> bool:
        return hmac.compare_digest(self.csrf(session), token)

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
