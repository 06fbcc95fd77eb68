"""The suite's table: one row per scenario, and how lost and duplicated are counted.

Counting is by event id, on the states themselves, not on any counter the worker keeps:

- **applied**: events whose effect is in the final states: every customer's `events`
  counter plus every rep's own `rep_joined` / `rep_left` ids. The replay's figure for the
  same log is `ReplayStats.events_applied`.
- **lost**: events the replay applied whose id is missing from a state that should hold
  it (the customer's `seen` set, or the rep's profile or weekly sets).
- **duplicated**: effects present more often than once, or that should not be there: a
  customer whose `events` counter exceeds its distinct ids, plus ids a state holds that
  the replay's state does not.
- **differing**: states not equal (`to_dict()`) to the replay's for any other reason; a
  double-counted contact with its id recorded once would show up here. Asserted empty.

Each row is also appended to `table.jsonl` in the report directory as soon as it is
made, so an interrupted run still leaves the rows it finished; the end of the session
rewrites it (with the notes added since) and writes `table.md`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streams.core.snapshot import Snapshot
from streams.core.state import CustomerState, RepState

REPORT_DIR_ENV = "CLOSECAST_RELIABILITY_REPORT"
DEFAULT_REPORT_DIR = Path(__file__).resolve().parents[2] / ".closecast" / "reliability"
_DIGEST = 8


def _digests(packed: bytes) -> set[bytes]:
    return {packed[i : i + _DIGEST] for i in range(0, len(packed), _DIGEST)}


def _rep_ids(state: RepState) -> set[bytes]:
    ids = _digests(state.profile_seen)
    for week in state.weeks.values():
        ids |= _digests(week[0])
    return ids


@dataclass
class Tally:
    applied: int = 0
    lost: int = 0
    duplicated: int = 0
    differing: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and not self.differing

    def describe(self) -> str:
        return (
            f"applied {self.applied:,}, lost {self.lost:,}, duplicated {self.duplicated:,}, "
            f"{len(self.differing)} states differ (e.g. {self.differing[:5]})"
        )


def tally(
    expected: Snapshot,
    customers: Mapping[str, Mapping[str, Any]],
    reps: Mapping[str, Mapping[str, Any]],
) -> Tally:
    """Compare states (as `to_dict()` dicts, e.g. from the worker's views) with a replay."""
    out = Tally()
    lost: set[bytes] = set()
    extra: set[bytes] = set()
    for key in sorted(set(expected.customers) | set(customers)):
        want = expected.customers.get(key)
        raw = customers.get(key)
        got = CustomerState.from_dict(dict(raw)) if raw is not None else None
        want_ids = _digests(want.seen) if want is not None else set()
        got_ids = _digests(got.seen) if got is not None else set()
        lost |= want_ids - got_ids
        extra |= got_ids - want_ids
        if got is not None:
            out.applied += got.events
            out.duplicated += max(0, got.events - len(got_ids))
        if (want.to_dict() if want is not None else None) != raw:
            out.differing.append(f"customer {key}")
    for key in sorted(set(expected.reps) | set(reps)):
        want_rep = expected.reps.get(key)
        raw = reps.get(key)
        got_rep = RepState.from_dict(dict(raw)) if raw is not None else None
        want_ids = _rep_ids(want_rep) if want_rep is not None else set()
        got_ids = _rep_ids(got_rep) if got_rep is not None else set()
        lost |= want_ids - got_ids
        extra |= got_ids - want_ids
        if got_rep is not None:
            out.applied += len(got_rep.profile_seen) // _DIGEST
        if (want_rep.to_dict() if want_rep is not None else None) != raw:
            out.differing.append(f"rep {key}")
    out.lost = len(lost)
    out.duplicated += len(extra)
    return out


def tally_snapshot(expected: Snapshot, got: Snapshot) -> Tally:
    return tally(
        expected,
        {k: v.to_dict() for k, v in got.customers.items()},
        {k: v.to_dict() for k, v in got.reps.items()},
    )


@dataclass
class Row:
    scenario: str
    sent: int
    applied: int
    expected_applied: int
    lost: int
    duplicated: int
    rejected: Counter[str] = field(default_factory=Counter)
    recovery_s: float | None = None
    recovery_what: str = ""
    notes: str = ""
    differing: int = 0

    @classmethod
    def from_tally(cls, scenario: str, sent: int, expected: Snapshot, t: Tally) -> Row:
        return cls(
            scenario=scenario,
            sent=sent,
            applied=t.applied,
            expected_applied=expected.stats.events_applied,
            lost=t.lost,
            duplicated=t.duplicated,
            differing=len(t.differing),
        )

    @property
    def exact(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.differing == 0
            and self.applied == self.expected_applied
        )

    def rejected_text(self) -> str:
        total = sum(self.rejected.values())
        if not total:
            return "0"
        parts = ", ".join(f"{reason} {n:,}" for reason, n in self.rejected.most_common())
        return f"{total:,} ({parts})"

    def recovery_text(self) -> str:
        if self.recovery_s is None:
            return "—"
        what = f" ({self.recovery_what})" if self.recovery_what else ""
        return f"{self.recovery_s:.1f} s{what}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "sent": self.sent,
            "applied": self.applied,
            "expected_applied": self.expected_applied,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "differing": self.differing,
            "rejected": dict(self.rejected.most_common()),
            "recovery_s": self.recovery_s,
            "recovery_what": self.recovery_what,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Row:
        return cls(
            scenario=data["scenario"],
            sent=data["sent"],
            applied=data["applied"],
            expected_applied=data["expected_applied"],
            lost=data["lost"],
            duplicated=data["duplicated"],
            differing=data["differing"],
            rejected=Counter(data["rejected"]),
            recovery_s=data["recovery_s"],
            recovery_what=data["recovery_what"],
            notes=data["notes"],
        )


HEADER = (
    "scenario",
    "events sent",
    "events applied",
    "lost",
    "duplicated",
    "rejected (reason)",
    "recovery time",
    "notes",
)


def render(rows: Iterable[Row]) -> str:
    """A Markdown table (it reads as plain text in a terminal, and goes into the README)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        applied = f"{r.applied:,}"
        if r.applied != r.expected_applied:
            applied += f" (replay: {r.expected_applied:,})"
        cells = (
            r.scenario,
            f"{r.sent:,}",
            applied,
            f"{r.lost:,}",
            f"{r.duplicated:,}" + (f" (+{r.differing} states differ)" if r.differing else ""),
            r.rejected_text(),
            r.recovery_text(),
            r.notes,
        )
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def report_dir() -> Path:
    raw = os.environ.get(REPORT_DIR_ENV, "").strip()
    return Path(raw) if raw else DEFAULT_REPORT_DIR


class Table:
    """The rows of one test session, kept in memory and appended to `table.jsonl`."""

    def __init__(self, directory: Path, profile: str) -> None:
        self.directory = directory
        self.profile = profile
        self.rows: list[Row] = []
        directory.mkdir(parents=True, exist_ok=True)
        self.jsonl = directory / "table.jsonl"
        self.jsonl.write_bytes(b"")

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        with self.jsonl.open("ab") as handle:
            handle.write(orjson.dumps({"profile": self.profile, **row.to_dict()}) + b"\n")
        return row

    def write_all(self) -> Path:
        """Rewrite `table.jsonl` (rows gain notes after they are added) and `table.md`."""
        self.jsonl.write_bytes(
            b"".join(
                orjson.dumps({"profile": self.profile, **row.to_dict()}) + b"\n"
                for row in self.rows
            )
        )
        path = self.directory / "table.md"
        path.write_text(render(self.rows) + "\n", encoding="utf-8")
        return path


def read_rows(path: Path) -> list[Row]:
    return [Row.from_dict(orjson.loads(line)) for line in path.read_bytes().splitlines() if line]
