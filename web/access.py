"""Who may see and change which customer, and who may read the sensitive portrait.

The rules (`docs/domain.md`, principle 4, and issue 6):

- a **rep** sees and changes the customers it owns, and sees the public pool, whose
  customers it may claim (a `customer_assigned` to itself); nothing else;
- a **manager** sees and changes the customers of its team (the reps whose `rep_joined`
  names the manager's team) and the pool;
- **analysts** and **admins** see no customer: analysts get the pseudonymised data set
  and the models, admins the audit log and the access settings;
- `deep` and `extended` portrait values are shown only to the owner rep and to the
  managers who see the customer, and for a **VVIP** customer only to those of them that
  the need-to-know file names for that customer. A VVIP customer without an entry there
  is readable by nobody: the list must be written down, never assumed.

The need-to-know file (TOML, re-read when it changes; path from `--access` or
`CLOSECAST_ACCESS_FILE`):

    [need_to_know]
    c000042 = ["alice", "mona"]     # customer_id = user ids allowed its deep/extended
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from streams.core.state import CustomerState
from web.ledger import Ledger
from web.users import User

_RELOAD_EVERY_S: Final = 2.0


class AccessFileError(Exception):
    """The need-to-know file cannot be used; the message names the entry."""


def parse_need_to_know(text: str, source: str = "access file") -> dict[str, frozenset[str]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccessFileError(f"{source}: not valid TOML ({exc})") from None
    table = data.get("need_to_know", {})
    if not isinstance(table, dict):
        raise AccessFileError(f"{source}: need_to_know must be a table")
    out: dict[str, frozenset[str]] = {}
    for customer_id, users in table.items():
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            raise AccessFileError(f"{source}: need_to_know.{customer_id}: must be a list of ids")
        out[customer_id] = frozenset(users)
    return out


Changes = Callable[[dict[str, frozenset[str]], dict[str, frozenset[str]]], None]


class NeedToKnow:
    """The named readers of each VVIP customer's sensitive sections.

    The file is the only way to change a list: whoever may write it (the admins who run
    the server) decides, and no route of the server can. Every change it notices is
    handed to `on_change` (the server audits it)."""

    def __init__(self, path: Path | None, on_change: Changes | None = None) -> None:
        self.path = path
        self.on_change = on_change
        self._lists: dict[str, frozenset[str]] = {}
        self._mtime = -1
        self._checked = 0.0
        if path is not None:
            self._lists = parse_need_to_know(path.read_text(encoding="utf-8"), str(path))
            self._mtime = path.stat().st_mtime_ns
            self._checked = time.monotonic()

    def allowed(self, customer_id: str) -> frozenset[str]:
        self._maybe_reload()
        return self._lists.get(customer_id, frozenset())

    def listed(self, customer_id: str) -> bool:
        self._maybe_reload()
        return customer_id in self._lists

    def entries(self) -> dict[str, list[str]]:
        self._maybe_reload()
        return {cid: sorted(users) for cid, users in sorted(self._lists.items())}

    def _maybe_reload(self) -> None:
        if self.path is None or time.monotonic() - self._checked < _RELOAD_EVERY_S:
            return
        self._checked = time.monotonic()
        try:
            mtime = self.path.stat().st_mtime_ns
            if mtime != self._mtime:
                self._replace(parse_need_to_know(self.path.read_text(encoding="utf-8")))
                self._mtime = mtime
        except (OSError, AccessFileError):
            # A file that vanished or broke keeps no one's access: fail closed. A customer
            # that was listed stays restricted (web.access.Access.restricted).
            self._replace({})

    def _replace(self, lists: dict[str, frozenset[str]]) -> None:
        before, self._lists = self._lists, lists
        if before != lists and self.on_change is not None:
            self.on_change(before, lists)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


class Access:
    def __init__(
        self,
        ledger: Ledger,
        need_to_know: NeedToKnow,
        importance_editors: frozenset[str] = frozenset(),
        pool_readers: frozenset[str] = frozenset(),
    ) -> None:
        self.ledger = ledger
        self.need_to_know = need_to_know
        self.importance_editors = importance_editors
        self.pool_readers = pool_readers
        # Customers a need-to-know list ever named while this server ran: restricted for
        # good, even if the entry is removed by mistake (fail closed).
        self.ever_listed: set[str] = set()

    def restricted(self, customer_id: str) -> bool:
        """Sensitive sections readable only by the need-to-know list: once VVIP or listed,
        always, whatever the tier says now (a tier change cannot reopen them)."""
        if self.need_to_know.listed(customer_id):
            self.ever_listed.add(customer_id)
            return True
        state = self.ledger.customer(customer_id)
        return (
            customer_id in self.ledger.ever_vvip
            or customer_id in self.ever_listed
            or (state is not None and state.tier == "vvip")
        )

    def may_set_importance(self, user: User, state: CustomerState) -> Decision:
        """Importance of a restricted customer: its need-to-know list and the named
        editors (`CLOSECAST_IMPORTANCE_EDITORS`) only, never the people it keeps out."""
        if user.id in self.importance_editors:
            return Decision(True, "named importance editor")
        if self.restricted(state.customer_id):
            if user.id in self.need_to_know.allowed(state.customer_id):
                return Decision(True, "on the need-to-know list")
            return Decision(False, "restricted customer: its need-to-know list only")
        if self.manages(user, state):
            return Decision(True, "team manager")
        return Decision(False, "team managers only")

    def team_of(self, user: User) -> str | None:
        if user.team is not None:
            return user.team
        rep = self.ledger.reps.get(user.rep_id or "")
        return rep.team if rep is not None else None

    def team_reps(self, user: User) -> list[str]:
        """The reps a manager manages: those whose rep_joined names its team."""
        team = self.team_of(user)
        if user.role != "manager" or team is None:
            return []
        return sorted(r for r, s in self.ledger.reps.items() if s.team == team)

    def owns(self, user: User, state: CustomerState) -> bool:
        return (
            user.rep_id is not None
            and state.owner == user.rep_id
            and not self.ledger.in_pool(state)
        )

    def manages(self, user: User, state: CustomerState) -> bool:
        if user.role != "manager":
            return False
        if self.ledger.in_pool(state):
            return True
        team = self.team_of(user)
        owner = self.ledger.reps.get(state.owner or "")
        return team is not None and owner is not None and owner.team == team

    def can_see(self, user: User, state: CustomerState) -> bool:
        if user.role == "rep":
            return self.owns(user, state) or self.ledger.in_pool(state)
        return self.manages(user, state)

    def can_change(self, user: User, state: CustomerState) -> bool:
        if user.role == "rep":
            return self.owns(user, state)
        return self.manages(user, state)

    def can_claim(self, user: User, state: CustomerState) -> bool:
        return user.role == "rep" and self.ledger.in_pool(state)

    def can_see_rep(self, user: User, rep_id: str) -> bool:
        if user.role == "rep":
            return user.rep_id == rep_id
        return user.role == "manager" and rep_id in self.team_reps(user)

    def sensitive(self, user: User, state: CustomerState) -> Decision:
        """May this user read this customer's deep and extended sections (and notes)?"""
        cid = state.customer_id
        if self.ledger.in_pool(state):
            # Nobody follows a pool customer up: its sections are its circle's only.
            if user.id in self.need_to_know.allowed(cid):
                return Decision(True, "pool customer: on its need-to-know list")
            if user.id in self.pool_readers and not self.restricted(cid):
                return Decision(True, "pool customer: named pool reader")
            return Decision(False, "pool customer: its need-to-know list and named readers only")
        if user.role == "rep":
            if not self.owns(user, state):
                return Decision(False, "only the owner rep and the team's managers")
        elif not self.manages(user, state):
            return Decision(False, "only the owner rep and the team's managers")
        if self.restricted(cid) and user.id not in self.need_to_know.allowed(cid):
            return Decision(False, "VVIP customer: only its named need-to-know list")
        return Decision(True, "owner rep" if user.role == "rep" else "team manager")
