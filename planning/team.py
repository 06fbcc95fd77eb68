"""Team health: yearly sales-team turnover against the 10-15% band (principle 3).

turnover = people who left in the window / average headcount over it, where the average
is that of the headcount at the window's start and at its end (as_of). The window is
`turnover_window_days` (365) ending at as_of. Above the band hurts results, below it
means too little drive; both ends belong to the band. Everyone who joined the sales team
counts, managers included, per team and for the whole company. Tenure and leaving come
from rep_joined / rep_left; a rep who left and rejoined counts as present.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from features.policy import DEFAULT, Policy
from streams.core.state import DAY_US, RepState

TURNOVER_COLUMNS = (
    "team",
    "headcount_start",
    "headcount_end",
    "joined",
    "left",
    "turnover",
    "band",
    "verdict",
)
ALL = "(all)"
NO_TEAM = "(no team)"


def present(rep: RepState, ts: int) -> bool:
    left = rep.left_ts
    return rep.joined_ts <= ts and (left is None or left > ts)


def turnover_verdict(rate: float, policy: Policy = DEFAULT) -> str:
    if rate != rate:  # NaN: nobody to measure
        return "no headcount"
    if rate > policy.turnover_high:
        return "above band: turnover hurts results"
    if rate < policy.turnover_low:
        return "below band: too little drive"
    return "within band"


def turnover(reps: Mapping[str, RepState], as_of: int, policy: Policy = DEFAULT) -> pd.DataFrame:
    start = as_of - policy.turnover_window_days * DAY_US
    teams: dict[str, list[RepState]] = {}
    for rep in reps.values():
        teams.setdefault(rep.team or NO_TEAM, []).append(rep)
    band = f"{policy.turnover_low:.0%}-{policy.turnover_high:.0%}"
    rows = []
    for team, members in [*sorted(teams.items()), (ALL, list(reps.values()))]:
        head_start = sum(present(r, start) for r in members)
        head_end = sum(present(r, as_of) for r in members)
        joined = sum(start < r.joined_ts <= as_of for r in members)
        left = sum(r.left_ts is not None and start < r.left_ts <= as_of for r in members)
        average = (head_start + head_end) / 2
        rate = left / average if average else float("nan")
        rows.append(
            (
                team,
                head_start,
                head_end,
                joined,
                left,
                round(rate, 4),
                band,
                turnover_verdict(rate, policy),
            )
        )
    return pd.DataFrame(rows, columns=list(TURNOVER_COLUMNS))
