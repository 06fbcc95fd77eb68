"""The world a simulated customer lives in: the calendar and the sales team over time.

Time is an integer number of minutes since local midnight of the start day. The roster is
drawn before any customer, so each customer can be simulated on its own against it.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate

DAY = 1440
OFFICE_OPENS = 9 * 60
OFFICE_MINUTES = 9 * 60  # 09:00-18:00
# Reps leave after office hours, so no same-day follow-up of theirs can come after it.
LEAVES_AT = 20 * 60
NEW_REP_DAYS = 180  # "first 3-6 months" of the domain text
NEW_REP_LEAD_WEIGHT = 1.3  # managers feed new reps prospects: contacts are their main KPI

TEAMS = ("east", "south", "north", "west", "central", "southwest")
SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu")
GIVEN = ("Wei", "Fang", "Min", "Jing", "Lei", "Yan", "Jun", "Tao", "Hui", "Qiang", "Na", "Bo")


class Clock:
    """Turns simulation minutes into ISO-8601 strings and picks moments in office hours."""

    def __init__(self, start: datetime) -> None:
        offset = start.utcoffset()
        if offset is None:
            raise ValueError("SimulationConfig.start must be timezone-aware")
        self._origin = start.replace(hour=0, minute=0, second=0, microsecond=0)
        self._origin_weekday = self._origin.weekday()
        total = int(offset.total_seconds()) // 60
        sign = "+" if total >= 0 else "-"
        self._suffix = f":00{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"
        self._dates: dict[int, str] = {}

    def date(self, day: int) -> str:
        """ISO date of a day index (cached: formatting dominates otherwise)."""
        text = self._dates.get(day)
        if text is None:
            text = (self._origin + timedelta(days=day)).date().isoformat()
            self._dates[day] = text
        return text

    def iso(self, t: int) -> str:
        day, minute = divmod(t, DAY)
        hour, minute = divmod(minute, 60)
        return f"{self.date(day)}T{hour:02d}:{minute:02d}{self._suffix}"

    def office_time(self, day: int, rng: random.Random) -> int:
        """A moment in office hours on `day`; weekends mostly slip to the next Monday."""
        weekday = (self._origin_weekday + day) % 7
        if weekday >= 5 and rng.random() < 0.85:
            day += 7 - weekday
        return day * DAY + OFFICE_OPENS + int(rng.random() * OFFICE_MINUTES)


@dataclass(slots=True)
class Rep:
    """A member of the sales team and the hidden traits that shape their follow-ups."""

    index: int
    rep_id: str
    role: str  # "rep" | "manager"
    team: str
    name: str
    joined: int  # minute; negative for people hired before the log starts
    left: int | None
    quality: float  # latent skill offset, added to the tenure ramp
    diligence: float  # multiplies the contact rate
    regularity: float  # gamma shape of the gaps between contacts: high = steady cadence

    @property
    def seasoned(self) -> float:
        """Skill after the first year."""
        return min(1.3, max(0.1, 1.0 + self.quality))

    def active_on(self, day: int) -> bool:
        """May take on customers on `day` (not on the day they join or leave)."""
        return self.joined // DAY < day and (self.left is None or self.left // DAY > day)

    def is_new(self, t: int) -> bool:
        return t - self.joined < NEW_REP_DAYS * DAY

    def skill(self, t: int) -> float:
        """Professionalism: ramps up over the first year, then the person shows."""
        tenure = t - self.joined
        if tenure >= 365 * DAY:
            return self.seasoned
        ramp = 0.2 + 0.8 * (max(0, tenure) / (365 * DAY)) ** 1.5
        return min(1.3, max(0.1, ramp + self.quality))


class Roster:
    """All reps and managers over the period, with a per-day view of who can own leads."""

    def __init__(self, reps: list[Rep]) -> None:
        self.reps = reps
        self.sales = [r for r in reps if r.role == "rep"]
        self._managers = {r.team: r for r in reps if r.role == "manager"}
        self._any_manager = next(r for r in reps if r.role == "manager")
        self._cache: dict[int, tuple[list[Rep], list[float], list[Rep]]] = {}

    def _day(self, day: int) -> tuple[list[Rep], list[float], list[Rep]]:
        view = self._cache.get(day)
        if view is None:
            active = [r for r in self.sales if r.active_on(day)]
            weights = (NEW_REP_LEAD_WEIGHT if r.is_new(day * DAY) else 1.0 for r in active)
            new = [r for r in active if r.is_new(day * DAY)]
            view = (active, list(accumulate(weights)), new)
            self._cache[day] = view
        return view

    def pick_owner(
        self, day: int, rng: random.Random, prefer_new: float = 0.0, avoid: Rep | None = None
    ) -> Rep | None:
        """A rep active on `day`; with probability `prefer_new` one still in their first months."""
        active, cum, new = self._day(day)
        if not active:
            return None
        if new and rng.random() < prefer_new:
            return new[rng.randrange(len(new))]
        for _ in range(3):  # a different rep than `avoid` when one exists
            rep = active[bisect.bisect_right(cum, rng.random() * cum[-1])]
            if rep is not avoid or len(active) == 1:
                return rep
        return rep

    def manager_of(self, rep: Rep | None) -> Rep:
        if rep is None:
            return self._any_manager
        return self._managers.get(rep.team, self._any_manager)


def _name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"


def _hire(rng: random.Random, reps: list[Rep], role: str, team: str, joined_day: int) -> Rep:
    rep = Rep(
        index=len(reps),
        rep_id=f"r{len(reps) + 1:03d}",
        role=role,
        team=team,
        name=_name(rng),
        joined=joined_day * DAY + OFFICE_OPENS,
        left=None,
        quality=max(-0.3, min(0.3, rng.gauss(0.0, 0.15))),
        diligence=max(0.6, min(1.6, rng.lognormvariate(0.0, 0.2))),
        regularity=rng.choice((1.5, 2.5, 4.0, 6.0)),
    )
    reps.append(rep)
    return rep


def build_roster(
    rng: random.Random,
    headcount: int,
    days: int,
    turnover: float = 0.125,
    growth: float = 0.04,
) -> Roster:
    """Managers (one per team) and reps, with staggered hiring dates before the log starts,
    departures at a fixed yearly `turnover` (10-15 % is the domain's healthy range), a
    replacement hired for each, and a little `growth`."""
    reps: list[Rep] = []
    n_managers = max(1, round(headcount / 8))
    teams = [TEAMS[i] if i < len(TEAMS) else f"team{i + 1}" for i in range(n_managers)]
    for team in teams:
        _hire(rng, reps, "manager", team, -rng.randint(3 * 365, 10 * 365))
    for i in range(max(1, headcount - n_managers)):
        # A fifth of the team is still new when the log starts; the rest are seasoned.
        years_ago = rng.uniform(0.0, 0.4) if rng.random() < 0.2 else rng.uniform(0.5, 8.0)
        _hire(rng, reps, "rep", teams[i % n_managers], -int(years_ago * 365) - 1)

    n_sales = len(reps) - n_managers
    years = days / 365.0
    for _ in range(round(growth * n_sales * years)):
        _hire(rng, reps, "rep", rng.choice(teams), rng.randint(1, max(1, days - 1)))

    # A fixed number of departures keeps the yearly rate on target even for small teams.
    n_leaving = round(turnover * n_sales * (1 + growth * years / 2) * years)
    for day in sorted(rng.randint(5, max(5, days - 1)) for _ in range(n_leaving)):
        candidates = [
            r for r in reps if r.role == "rep" and r.left is None and r.active_on(day - 45)
        ]
        if not candidates:
            continue
        # New people leave more often than settled ones.
        weights = [2.0 if r.is_new(day * DAY) else 1.0 for r in candidates]
        leaver = rng.choices(candidates, weights)[0]
        leaver.left = day * DAY + LEAVES_AT
        replacement_day = day + rng.randint(7, 45)
        if replacement_day < days:
            _hire(rng, reps, "rep", leaver.team, replacement_day)
    return Roster(reps)
