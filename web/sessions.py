"""Sessions and API tokens: one signed, expiring token, carried in a cookie or a header.

    v1.<base64url payload>.<base64url HMAC-SHA256(secret, payload)>

The payload names the user, the expiry and a random session id. Nothing is stored
server-side but the ids of sessions that logged out, appended (fsync) to a file so a
restart does not bring a logged-out token back to life; a server reads the file at start
and re-reads it when it grows, so several processes sharing it agree. Pages send it as
an HttpOnly, SameSite=Strict cookie; scripts send it as `Authorization: Bearer <token>`
(from `POST /api/login`). Form posts carry a CSRF token derived from the session id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
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
    def __init__(self, secret: bytes, hours: float, revoked_file: Path | None = None) -> None:
        self._key = hmac.new(secret, b"closecast session v1", hashlib.sha256).digest()
        self._csrf_key = hmac.new(secret, b"closecast csrf v1", hashlib.sha256).digest()
        self.seconds = int(hours * 3600)
        self._revoked: dict[str, int] = {}
        self.revoked_file = revoked_file
        self._read_to = 0
        self._load_revoked()

    def _load_revoked(self) -> None:
        """Read the revocations appended since the last read (by this or another process)."""
        path = self.revoked_file
        if path is None or not path.exists():
            return
        if path.stat().st_size == self._read_to:
            return
        now = time.time()
        with path.open("rb") as handle:
            handle.seek(self._read_to)
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # being written: next time
                self._read_to += len(line)
                try:
                    data = orjson.loads(line)
                    sid, exp = str(data["sid"]), int(data["exp"])
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue
                if exp > now:
                    self._revoked[sid] = exp

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
        self._load_revoked()
        if session.sid in self._revoked:
            return None
        return session

    def revoke(self, session: Session) -> None:
        self._revoked[session.sid] = session.expires
        if self.revoked_file is not None:
            self.revoked_file.parent.mkdir(parents=True, exist_ok=True)
            line = orjson.dumps({"sid": session.sid, "exp": session.expires}) + b"\n"
            fd = os.open(self.revoked_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
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
