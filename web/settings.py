"""The server's settings: secrets and files from the environment, checked before start.

Secrets never have defaults: a server started without `CLOSECAST_SECRET` would have to
invent one (sessions lost on every restart) or ship one (anyone could forge a session),
so it refuses to start and says what to set.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MIN_SECRET_CHARS: Final = 32
DEFAULT_AUDIT_LOG: Final = Path(".closecast/audit.jsonl")


class SettingsError(Exception):
    """A setting is missing or unusable; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    secret: bytes
    pseudonym_key: bytes
    users_file: Path
    access_file: Path | None
    audit_log: Path
    session_hours: float = 8.0
    secure_cookies: bool = False
    # Bodies larger than this get 413 before they are read: a contract event is at most a
    # 2,000-character note plus a small envelope, and a pool acceptance a few hundred lines.
    max_body_bytes: int = 256 * 1024
    # The team's time zone: every time a page shows is in it (CLOSECAST_TIMEZONE, an IANA
    # name such as Asia/Taipei; UTC by default).
    timezone: str = "UTC"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        users_file: Path | None = None,
        access_file: Path | None = None,
        audit_log: Path | None = None,
    ) -> Settings:
        env = os.environ if env is None else env
        secret = env.get("CLOSECAST_SECRET", "")
        if len(secret) < MIN_SECRET_CHARS:
            raise SettingsError(
                "CLOSECAST_SECRET is "
                + ("not set" if not secret else f"shorter than {MIN_SECRET_CHARS} characters")
                + ": set it to a long random string (it signs sessions), e.g. "
                "`export CLOSECAST_SECRET=$(openssl rand -hex 32)`"
            )
        users = users_file or _path(env.get("CLOSECAST_USERS_FILE"))
        if users is None:
            raise SettingsError(
                "no users file: pass --users FILE or set CLOSECAST_USERS_FILE "
                "(see web/README.md; closecast ships no default users or passwords)"
            )
        if not users.is_file():
            raise SettingsError(f"users file {users}: no such file")
        access = access_file or _path(env.get("CLOSECAST_ACCESS_FILE"))
        if access is not None and not access.is_file():
            raise SettingsError(f"access file {access}: no such file")
        pseudonym = env.get("CLOSECAST_PSEUDONYM_KEY", "")
        if pseudonym and len(pseudonym) < MIN_SECRET_CHARS:
            raise SettingsError(
                f"CLOSECAST_PSEUDONYM_KEY is shorter than {MIN_SECRET_CHARS} characters"
            )
        # Without a key of its own the pseudonym key is derived from the session secret;
        # a separate key keeps exported pseudonyms stable when the session secret rotates.
        key = (
            pseudonym.encode()
            if pseudonym
            else hmac.new(secret.encode(), b"closecast pseudonym key v1", hashlib.sha256).digest()
        )
        hours = env.get("CLOSECAST_SESSION_HOURS", "8")
        try:
            session_hours = float(hours)
        except ValueError:
            raise SettingsError(f"CLOSECAST_SESSION_HOURS: not a number ({hours!r})") from None
        return cls(
            secret=secret.encode(),
            pseudonym_key=key,
            users_file=users,
            access_file=access,
            audit_log=audit_log or _path(env.get("CLOSECAST_AUDIT_LOG")) or DEFAULT_AUDIT_LOG,
            session_hours=session_hours,
            secure_cookies=env.get("CLOSECAST_SECURE_COOKIES", "") not in ("", "0", "false"),
            timezone=_zone(env.get("CLOSECAST_TIMEZONE", "") or "UTC"),
        )


def _zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"CLOSECAST_TIMEZONE: no time zone {name!r} (an IANA name such as Asia/Taipei)"
        ) from None
    return name


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None
