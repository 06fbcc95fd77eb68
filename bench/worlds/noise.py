"""Noisy input: what a log written by another tool, sent twice here and there, looks like.

From a clean list of events: 1-2% of them re-sent (the same event id and content, later
in the file), 0.1-0.5% of lines malformed (truncated JSON, a missing field, an offset-less
time, an unknown type), every line's keys in a shuffled order, spaces after the colons
on some lines, and the lines in shuffled order. The valid events are exactly the clean
ones, so every label the bench computes is unchanged by the noise.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

RESENT = 0.015
MALFORMED = 0.003


def _malformed(rng: np.random.Generator, event: dict[str, Any], n: int) -> str:
    broken = dict(event, event_id=f"broken-{n}")
    kind = int(rng.integers(4))
    if kind == 0:
        text = json.dumps(broken)
        return text[: max(5, len(text) // 2)]
    if kind == 1:
        broken.pop("occurred_at")
    elif kind == 2:
        broken["occurred_at"] = broken["occurred_at"][:19]  # no UTC offset
    else:
        broken["type"] = "order_maybe"
    return json.dumps(broken)


def _line(rng: np.random.Generator, event: dict[str, Any]) -> str:
    keys = list(event)
    rng.shuffle(keys)
    spaced = rng.random() < 0.5
    return json.dumps(
        {k: event[k] for k in keys},
        separators=(", ", ": ") if spaced else (",", ":"),
        ensure_ascii=False,
    )


def noisy_lines(events: list[dict[str, Any]], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    lines = [_line(rng, e) for e in events]
    picks = rng.choice(len(events), size=int(len(events) * RESENT), replace=False)
    lines += [_line(rng, events[i]) for i in picks]
    bad = rng.choice(len(events), size=max(1, int(len(events) * MALFORMED)), replace=False)
    lines += [_malformed(rng, events[i], k) for k, i in enumerate(bad)]
    order = rng.permutation(len(lines))
    return [lines[i] for i in order]
