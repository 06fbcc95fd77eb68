"""The dead-letter store: every rejected line or message, with its reason, kept.

A rejection keeps the raw text so an operator can fix and re-send it, except where the raw
text may hold a sensitive portrait section (`deep`, `extended`): those values are
redacted here, because the dead-letter store is read by more people than the portrait.
The original stays untouched in its source (the log file or the events topic), and
`raw_sha256` identifies it there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

import orjson

from streams.core.contract import SECTIONS, SENSITIVE_SECTIONS

REDACTED: Final = "[redacted]"


@dataclass(frozen=True, slots=True)
class Rejection:
    """One input that broke the contract."""

    source: str
    line: int
    reason: str
    raw: str
    raw_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "line": self.line,
            "reason": self.reason,
            "raw": self.raw,
            "raw_sha256": self.raw_sha256,
        }


def reject(source: str, line: int, raw: bytes | str, reason: str) -> Rejection:
    data = raw if isinstance(raw, bytes) else _encode(raw)
    return Rejection(source, line, reason, safe_raw(data), hashlib.sha256(data).hexdigest())


def _encode(text: str) -> bytes:
    # Undo a surrogateescape decode; a lone surrogate from elsewhere (a broken message
    # that came in as str) has no UTF-8 form, so keep it as its surrogatepass bytes.
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def safe_raw(data: bytes) -> str:
    """The raw text fit to store: sensitive portrait values redacted.

    Valid JSON is redacted field by field (see `_redact`) and kept as it came when
    nothing needed redacting. Broken JSON cannot be taken apart, so it is replaced by a
    note of its size whenever it could hold a sensitive section: it names one (in any
    case), or it has `\\u` escapes, which can spell one without naming it.
    """
    text = data.decode("utf-8", "replace")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        lowered = text.lower()
        if "\\u" in text or any(section in lowered for section in SENSITIVE_SECTIONS):
            return f"{REDACTED} {len(data)} bytes that may hold a sensitive portrait section"
        return text
    redacted = _redact(obj)
    return text if redacted is obj else orjson.dumps(redacted).decode()


def _redact(obj: object, depth: int = 0) -> object:
    """`obj` with every possibly sensitive portrait value replaced; `obj` itself if none.

    Wherever it sits (a misplaced payload is still a portrait), an object with a
    `section` that is not one of the known non-sensitive sections (a sensitive one, a
    misspelt one such as "Deep", or one that is not a string) has every value but a
    string section redacted, and an object with `fields` but no `section` has its fields
    redacted: either could be a sensitive portrait. Below _MAX_DEPTH (far deeper than any
    event) containers are redacted whole rather than searched, so that no input can
    exhaust the stack.
    """
    if not isinstance(obj, list | dict):
        return obj
    if depth >= _MAX_DEPTH:
        return _blank(obj)
    if isinstance(obj, list):
        items = [_redact(item, depth + 1) for item in obj]
        return obj if all(a is b for a, b in zip(items, obj, strict=True)) else items
    out = {key: _redact(value, depth + 1) for key, value in obj.items()}
    if "section" in obj:
        section = obj["section"]
        if not isinstance(section, str):
            out = {key: _blank(value) for key, value in out.items()}
        elif section not in _PLAIN_SECTIONS:
            out = {key: value if key == "section" else _blank(value) for key, value in out.items()}
    elif "fields" in obj:
        out["fields"] = _blank(out["fields"])
    if isinstance(obj.get("note"), str):
        out["note"] = REDACTED  # free text is as sensitive as a deep section (issue 13)
    if all(out[key] is obj[key] for key in obj):
        return obj
    return out


def _blank(value: object) -> object:
    """A redacted value: an object keeps its keys (field names are not sensitive)."""
    if isinstance(value, dict):
        return {str(key): REDACTED for key in value}
    return REDACTED


_PLAIN_SECTIONS: Final = frozenset(SECTIONS) - SENSITIVE_SECTIONS
_MAX_DEPTH: Final = 32


class DeadLetterFile:
    """Appends rejections to a JSON Lines file, one object per rejection."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.count = 0
        self._handle: IO[bytes] | None = None

    def write(self, rejection: Rejection) -> None:
        self.count += 1
        if self.path is None:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("ab")
        self._handle.write(orjson.dumps(rejection.to_dict()) + b"\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> DeadLetterFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_dead_letters(path: Path) -> list[Rejection]:
    out = []
    with path.open("rb") as handle:
        for line in handle:
            obj = orjson.loads(line)
            out.append(Rejection(**obj))
    return out
