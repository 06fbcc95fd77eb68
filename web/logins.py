"""The login limit: a slot taken before the password is checked, so parallel guesses
cannot slip past it, and keys chosen so that strangers cannot lock the real user out.

Moving windows from the `limits` library (in-memory storage), taken on the event loop
before the first `await`, so no two requests interleave between a check and its count:

- per (user, address): every attempt takes a slot first (a success gives them back), so
  200 simultaneous guesses at one user from one address get 5 tries and 195 refusals;
- per address, failures only: a guesser spraying many users from one address is
  stopped, while an office behind one address can still log in all morning;
- per user, failures from addresses that never logged in as that user: a botnet guessing
  one password from many addresses is capped, while the user's own known addresses
  keep working, so the cap cannot be used to lock the user out from where they work.

The two failure windows are checked before and counted after the password check; at most
`IN_FLIGHT` checks per address and per user run at once, so parallel requests overshoot
them by no more than that.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

IN_FLIGHT: Final = 4


@dataclass
class LoginLimiter:
    per_user_address: RateLimitItem
    per_address: RateLimitItem
    per_user: RateLimitItem
    _limiter: MovingWindowRateLimiter = field(init=False)
    _known: dict[str, set[str]] = field(default_factory=dict, init=False)
    _running: Counter[str] = field(default_factory=Counter, init=False)

    def __post_init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def from_rates(cls, user_address: str, address: str, user: str) -> LoginLimiter:
        return cls(parse(user_address), parse(address), parse(user))

    def attempt(self, user: str, address: str) -> str | None:
        """Take a slot for one attempt; None if it may go on (then call `failed` or
        `succeeded`), else which limit refused it."""
        limiter = self._limiter
        if not limiter.hit(self.per_user_address, "user-address", user, address):
            return "this user from this address"
        if not limiter.test(self.per_address, "address", address):
            return "this address"
        if not self._known_address(user, address) and not limiter.test(self.per_user, "user", user):
            return "this user from new addresses"
        if self._running["a:" + address] >= IN_FLIGHT or self._running["u:" + user] >= IN_FLIGHT:
            return "checks already running"
        self._running["a:" + address] += 1
        self._running["u:" + user] += 1
        return None

    def failed(self, user: str, address: str) -> None:
        self._done(user, address)
        self._limiter.hit(self.per_address, "address", address)
        if not self._known_address(user, address):
            self._limiter.hit(self.per_user, "user", user)

    def succeeded(self, user: str, address: str) -> None:
        self._done(user, address)
        self._limiter.clear(self.per_user_address, "user-address", user, address)
        self._known.setdefault(user, set()).add(address)

    def _known_address(self, user: str, address: str) -> bool:
        return address in self._known.get(user, ())

    def _done(self, user: str, address: str) -> None:
        for key in ("a:" + address, "u:" + user):
            self._running[key] -= 1
            if self._running[key] <= 0:
                del self._running[key]
