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
    # Issue 13's trust boundaries, each overridable from the environment (see from_env).
    # A person may date an entry this far back (a call made yesterday, logged today).
    backdate_days: float = 7.0
    # An amount, expected or potential value above this is refused as implausible.
    max_amount: float = 5_000_000.0
    # Pool customers one rep may claim per UTC day.
    claims_per_day: int = 5
    # Claims wait for a team manager's acceptance (CLOSECAST_CLAIM_APPROVAL=1).
    claim_approval: bool = False
    # Users (besides a restricted customer's need-to-know list) who may set importance.
    importance_editors: frozenset[str] = frozenset()
    # Users (besides its need-to-know list) who may read a pool customer's deep/extended.
    pool_readers: frozenset[str] = frozenset()
    # Login attempts allowed (limits' notation) per (user, address), per address, and per
    # user from addresses that never logged in as that user.
    login_per_user_address: str = "5/minute"
    login_per_address: str = "30/minute"
    login_per_user: str = "100/hour"
    # Revoked sessions, kept across restarts (append-only).
    revoked_sessions: Path = Path(".closecast/revoked-sessions.jsonl")
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
        audit = audit_log or _path(env.get("CLOSECAST_AUDIT_LOG")) or DEFAULT_AUDIT_LOG
        from streams.core.held import HeldSettingError, skew_us

        try:
            skew_us(env)  # read again where events are folded; checked here, before start
        except HeldSettingError as exc:
            raise SettingsError(str(exc)) from None
        return cls(
            backdate_days=_number(env, "CLOSECAST_BACKDATE_DAYS", 7.0, 0, 366),
            max_amount=_number(env, "CLOSECAST_MAX_AMOUNT", 5_000_000.0, 1, 1e12),
            claims_per_day=int(_number(env, "CLOSECAST_CLAIMS_PER_DAY", 5, 0, 10_000)),
            claim_approval=env.get("CLOSECAST_CLAIM_APPROVAL", "") not in ("", "0", "false"),
            importance_editors=_ids(env, "CLOSECAST_IMPORTANCE_EDITORS"),
            pool_readers=_ids(env, "CLOSECAST_POOL_READERS"),
            login_per_user_address=_rate(env, "CLOSECAST_LOGIN_PER_USER_ADDRESS", "5/minute"),
            login_per_address=_rate(env, "CLOSECAST_LOGIN_PER_ADDRESS", "30/minute"),
            login_per_user=_rate(env, "CLOSECAST_LOGIN_PER_USER", "100/hour"),
            revoked_sessions=_path(env.get("CLOSECAST_REVOKED_SESSIONS"))
            or audit.with_name("revoked-sessions.jsonl"),
            secret=secret.encode(),
            pseudonym_key=key,
            users_file=users,
            access_file=access,
            audit_log=audit,
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


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}: not a number ({text!r})") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}: must be between {lo:g} and {hi:g}")
    return value


def _ids(env: Mapping[str, str], name: str) -> frozenset[str]:
    return frozenset(u.strip() for u in env.get(name, "").split(",") if u.strip())


def _rate(env: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse

    text = env.get(name, "").strip() or default
    try:
        parse(text)
    except ValueError:
        raise SettingsError(f"{name}: not a rate such as '5/minute' ({text!r})") from None
    return text
