"""Who may log in: the users file (TOML), with roles and scrypt password hashes.

    # users.toml — no passwords in here, only hashes: `closecast serve --hash-password`
    [users.alice]
    role = "rep"                 # rep | manager | analyst | admin
    rep_id = "r001"              # the rep_id this user acts as in the log (default: the id)
    password = "scrypt$16384$8$1$<salt>$<hash>"

    [users.mona]
    role = "manager"
    rep_id = "m01"
    team = "north"               # optional: else the team of the rep_joined of rep_id

A user without a `password` cannot log in. The file is re-read when it changes, so
removing a user ends their access without a restart (their sessions stop working too).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROLES: Final = ("rep", "manager", "analyst", "admin")
# scrypt at n=2**14, r=8: ~16 MiB and tens of milliseconds per guess, per user.
_N, _R, _P = 2**14, 8, 1
_RELOAD_EVERY_S: Final = 2.0


class UsersFileError(Exception):
    """The users file cannot be used; the message names the user and the key."""


@dataclass(frozen=True, slots=True)
class User:
    id: str
    role: str
    rep_id: str | None
    team: str | None
    password_hash: str | None

    @property
    def acts_as_rep(self) -> bool:
        """Reps and managers appear in the log as reps (`rep_joined`)."""
        return self.role in ("rep", "manager")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        # Spend the same time as a real check, so a missing user is not told apart by timing.
        hashlib.scrypt(password.encode(), salt=b"0" * 16, n=_N, r=_R, p=_P, dklen=32)
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def parse_users(text: str, source: str = "users file") -> dict[str, User]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsersFileError(f"{source}: not valid TOML ({exc})") from None
    table = data.get("users")
    if not isinstance(table, dict) or not table:
        raise UsersFileError(f"{source}: no [users.<id>] tables")
    users: dict[str, User] = {}
    for user_id, entry in table.items():
        where = f"{source}: users.{user_id}"
        if not isinstance(entry, dict):
            raise UsersFileError(f"{where}: must be a table")
        role = entry.get("role")
        if role not in ROLES:
            raise UsersFileError(f"{where}.role: must be one of {', '.join(ROLES)}")
        for key in ("rep_id", "team", "password"):
            if key in entry and not isinstance(entry[key], str):
                raise UsersFileError(f"{where}.{key}: must be a string")
        password = entry.get("password")
        if password is not None and not password.startswith("scrypt$"):
            raise UsersFileError(
                f"{where}.password: must be a scrypt hash from `closecast serve "
                "--hash-password`, never a plain password"
            )
        rep_id = entry.get("rep_id", user_id) if role in ("rep", "manager") else None
        users[user_id] = User(user_id, role, rep_id, entry.get("team"), password)
    return users


class UserDirectory:
    """The users of the users file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._users = parse_users(path.read_text(encoding="utf-8"), str(path))
        self._mtime = path.stat().st_mtime_ns
        self._checked = time.monotonic()

    def get(self, user_id: str) -> User | None:
        self._maybe_reload()
        return self._users.get(user_id)

    def all(self) -> list[User]:
        self._maybe_reload()
        return sorted(self._users.values(), key=lambda u: u.id)

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < _RELOAD_EVERY_S:
            return
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime_ns
            if mtime != self._mtime:
                # A broken edit keeps the users that were loaded, rather than locking out all.
                self._users = parse_users(self.path.read_text(encoding="utf-8"), str(self.path))
                self._mtime = mtime
        except (OSError, UsersFileError):
            return


def new_password() -> str:
    return secrets.token_urlsafe(18)
