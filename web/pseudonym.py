"""Pseudonymised ids for exports: a keyed HMAC, stable for one key, unlinkable without it.

A plain hash of a customer id can be reversed by hashing every plausible id; an HMAC
cannot without the key (`CLOSECAST_PSEUDONYM_KEY`, which never leaves the server).
The same id always gets the same pseudonym, so an analyst can join exports over time.
"""

from __future__ import annotations

import hashlib
import hmac


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, kind: str, value: str | None) -> str:
        if value is None:
            return ""
        digest = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind[0]}_{digest[:20]}"
