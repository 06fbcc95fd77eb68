"""A rep's daily call list: whom to contact today, in order, why, and what to do.

Order: the value of contacting the customer today,

    priority = predicted_value × cadence × need × quote × tier

- predicted_value: the score's p_close × expected order value (model or heuristic);
- cadence: 1.2 if never contacted effectively; 0.5 rising to 1.0 between the minimum gap
  and the target gap ("allowed, not yet due"); 1.25 when due, rising by 0.5 per target
  gap overdue up to 2.25 (three gaps late);
- need: 1.5 for a clear need due within `need_due_soon_days`, 1.2 for another clear need;
- quote: 1.4 while a quote waits for an answer;
- tier: standard 1.0, key 1.25, vvip 1.6.

Order: never-suspend customers that are due go first whatever their value, so capacity
never pushes them out; then the overdue (a day or more past their target gap), then the
due (today, or never reached: a new lead) and then the rest, each group by priority. A
clear need due within `need_due_soon_days` lifts a line that is not yet due into the due
group: a rep must not find a customer "not yet due" above one overdue by twelve days.

Guard rails: nobody is proposed within the minimum gap of their last effective contact
(3 days with a clear need, 14 without: "1-2 a month"; both settings); a rep gets at most
their daily capacity. Each line carries the list's own reasons (`why`), the reasons of
the scorer that produced its score (`reasons`, with `score_source`), the channel its
action calls for, the customer's contact details from the portrait's `basic` section
(never `deep` or `extended`), and the score's trend against an earlier score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from features.policy import DEFAULT, Policy
from models.reasons import for_people
from planning.book import NEVER, Book, build_book
from planning.contacts import NOBODY, Contact
from planning.dormant import dormant_mask
from streams.core.state import DAY_US, CustomerState, RepState

ACTIONS: Final = ("call", "visit", "invite", "win back")
# The contract's channel each action is done through: what quick logging preselects.
CHANNEL_OF: Final = {
    "call": "phone",
    "visit": "visit",
    "invite": "hosted_visit",
    "win back": "phone",
}
# The line's place in the list, most urgent first: overdue, due (incl. new leads), the rest.
DUE_STATES: Final = ("overdue", "due", "new", "not_due")
_GROUP: Final = {"overdue": 0, "due": 1, "new": 1, "not_due": 2}
# A score moving less than this over the trend's window reads as steady.
STEADY_BELOW: Final = 0.01
TREND_DAYS: Final = 30
FLAGS: Final = (
    "nearing_12th_contact",
    "past_12th_contact",
    "eligible_for_suspension",
    "dormant_win_back",
    "manager_joining",
)
_DEEP_STAGES: Final = ("teacher", "friend", "brother")
LIST_COLUMNS: Final = (
    "rank",
    "rep_id",
    "rep_name",
    "customer_id",
    "company",
    "contact_name",
    "phone",
    "due_state",
    "action",
    "channel",
    "priority",
    "p_close",
    "predicted_value",
    "effective_contacts",
    "days_since_contact",
    "flags",
    "why",
    "score_source",
    "reasons",
    "trend",
    "trend_change",
)


@dataclass(frozen=True)
class CallLine:
    rank: int
    rep_id: str
    customer_id: str
    action: str
    priority: float
    p_close: float
    predicted_value: float
    effective_contacts: int
    days_since_contact: float | None
    flags: tuple[str, ...]
    why: tuple[str, ...] = field(default_factory=tuple)
    score_source: str = ""
    reasons: tuple[str, ...] = field(default_factory=tuple)
    due_state: str = "not_due"
    channel: str = "phone"
    rep_name: str = ""
    contact: Contact = NOBODY
    trend: str = ""  # up | steady | down; "" without an earlier score
    trend_change: float | None = None  # p_close now minus p_close TREND_DAYS ago
    status: str = ""  # lead | customer (what a list is filtered by)
    stage: str = ""
    tier: str = "standard"
    # `why` as messages and values, for the pages to translate (never in exports).
    why_parts: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "rep_id": self.rep_id,
            "rep_name": self.rep_name,
            "customer_id": self.customer_id,
            "company": self.contact.company,
            "contact_name": self.contact.contact_name,
            "phone": self.contact.phone,
            "due_state": self.due_state,
            "action": self.action,
            "channel": self.channel,
            "priority": round(self.priority, 2),
            "p_close": round(self.p_close, 4),
            "predicted_value": round(self.predicted_value, 2),
            "effective_contacts": self.effective_contacts,
            "days_since_contact": (
                None if self.days_since_contact is None else round(self.days_since_contact, 1)
            ),
            "flags": list(self.flags),
            "why": list(self.why),
            "score_source": self.score_source,
            "reasons": list(self.reasons),
            "trend": self.trend,
            "trend_change": None if self.trend_change is None else round(self.trend_change, 4),
            "status": self.status,
            "stage": self.stage,
            "tier": self.tier,
        }


def trend_of(now: float, before: float | None) -> tuple[str, float | None]:
    """Up, steady or down, and by how much, from an earlier score (None: no trend)."""
    if before is None or not np.isfinite(before):
        return "", None
    change = now - before
    if abs(change) < STEADY_BELOW:
        return "steady", change
    return ("up" if change > 0 else "down"), change


# ---------------------------------------------------------------- vectorised rules


def flag_masks(book: Book, policy: Policy = DEFAULT) -> dict[str, np.ndarray]:
    """The list's flags for every customer, each firing exactly at its policy threshold."""
    eff = book.effective
    no_deal = book.orders == 0
    past = (eff >= policy.twelve_contacts) & no_deal
    return {
        "nearing_12th_contact": (eff >= policy.nearing_twelve_from)
        & (eff < policy.twelve_contacts)
        & no_deal,
        "past_12th_contact": past,
        "eligible_for_suspension": past
        & (book.p_close < policy.suspend_below_p)
        & ~book.never_suspend,
        "dormant_win_back": dormant_mask(book, policy),
        "manager_joining": (eff >= policy.manager_join_contacts) & no_deal,
    }


@dataclass(frozen=True)
class Cadence:
    since_us: np.ndarray  # microseconds since the last effective contact; -1 if never
    target_days: np.ndarray
    cooling: np.ndarray  # within the minimum gap: not to be proposed today
    due: np.ndarray  # never contacted, or the target gap has passed


def cadence(book: Book, policy: Policy = DEFAULT) -> Cadence:
    contacted = book.has_contact
    since = np.full(len(book), -1, dtype=np.int64)
    since[contacted] = book.as_of - book.last_contact[contacted]
    need = book.clear_need
    target = np.where(need, policy.target_gap_need_days, policy.target_gap_days)
    min_gap = np.where(need, policy.min_gap_need_days, policy.min_gap_days)
    # Compared in microseconds so the guard holds to the microsecond at the threshold.
    cooling = contacted & (since < min_gap * DAY_US)
    due = ~contacted | (since >= target * DAY_US)
    return Cadence(since, target, cooling, due)


def due_states(book: Book, c: Cadence, due_in: np.ndarray, policy: Policy = DEFAULT) -> np.ndarray:
    """Each customer's `DUE_STATES` entry (a near clear-need deadline makes "due")."""
    late = c.due & (c.since_us >= (c.target_days + 1) * DAY_US)
    soon = book.clear_need & (due_in >= 0) & (due_in <= policy.need_due_soon_days)
    return np.select(
        [~book.has_contact, late, c.due | soon], ["new", "overdue", "due"], "not_due"
    ).astype(object)


def need_due_in(book: Book) -> np.ndarray:
    """Days from as_of's day to each clear need's due date (NaN without one)."""
    out = np.full(len(book), np.nan)
    has = book.need_due_day != NEVER
    out[has] = book.need_due_day[has] - book.as_of_day
    return out


def priorities(book: Book, c: Cadence, due_in: np.ndarray, policy: Policy = DEFAULT) -> np.ndarray:
    """The value of contacting each customer today (the module docstring's formula)."""
    since_days = np.maximum(c.since_us, 0) / DAY_US
    min_gap = np.where(book.clear_need, policy.min_gap_need_days, policy.min_gap_days)
    ramp = np.clip((since_days - min_gap) / np.maximum(c.target_days - min_gap, 1e-9), 0, 1)
    overdue = np.minimum((since_days - c.target_days) / c.target_days, 2.0)
    factor = np.where(c.due, 1.25 + 0.5 * np.maximum(overdue, 0.0), 0.5 + 0.5 * ramp)
    factor = np.where(book.has_contact, factor, 1.2)
    soon = book.clear_need & (due_in >= 0) & (due_in <= policy.need_due_soon_days)
    factor = factor * np.where(soon, 1.5, np.where(book.clear_need, 1.2, 1.0))
    factor = factor * np.where(book.quote_open, 1.4, 1.0)
    tier = np.select([book.tier == "key", book.tier == "vvip"], [1.25, 1.6], 1.0)
    return np.asarray(book.predicted_value * factor * tier, dtype=float)


def _action(book: Book, i: int, dormant: bool) -> str:
    if dormant:
        return "win back"
    if book.stage[i] in _DEEP_STAGES and (book.clear_need[i] or book.quote_open[i]):
        # A need or a quote with a customer who shares needs and competition: meet them;
        # important customers are invited to see the company (a hosted visit).
        return "invite" if book.tier[i] != "standard" else "visit"
    return "call"


# A reason of the list: a message (a gettext msgid, `%(name)s` placeholders) and its
# values, already written as text. `text` gives the English the CLI and the API show; the
# pages translate the message and fill in the same values.
Why = tuple[str, tuple[tuple[str, str], ...]]


def N_(message: str) -> str:
    """Marks a message for the pages' catalogues (`make messages`); translated when shown."""
    return message


def text(why: Why) -> str:
    message, values = why
    return message % dict(values) if values else message


def _w(message: str, **values: object) -> Why:
    return message, tuple((k, str(v)) for k, v in values.items())


def _why(
    book: Book, i: int, c: Cadence, due_in: float, flags: list[str], policy: Policy
) -> list[Why]:
    why: list[Why] = []
    since = c.since_us[i] / DAY_US
    target = c.target_days[i]
    if c.since_us[i] < 0:
        why.append(_w(N_("new lead: no effective contact yet, open the relationship")))
    elif since >= target + 1:
        why.append(
            _w(
                N_("no contact for %(days)s days: overdue (due every %(every)s days)"),
                days=f"{since:.0f}",
                every=f"{target:g}",
            )
        )
    elif c.due[i]:
        why.append(
            _w(
                N_("no contact for %(days)s days: due today (every %(every)s days)"),
                days=f"{since:.0f}",
                every=f"{target:g}",
            )
        )
    else:
        why.append(
            _w(
                N_("contacted %(days)s days ago: next due in %(left)s days"),
                days=f"{since:.0f}",
                left=f"{target - since:.0f}",
            )
        )
    state = book.states[i]
    if book.clear_need[i]:
        if 0 <= due_in <= policy.need_due_soon_days:
            why.append(
                _w(
                    N_("clear need due %(date)s (in %(days)s days)"),
                    date=state.need_due,
                    days=f"{due_in:.0f}",
                )
            )
        else:
            why.append(_w(N_("clear order need")))
    if book.quote_open[i]:
        why.append(_w(N_("quote waiting for an answer")))
    tier = str(book.tier[i])
    if book.never_suspend[i]:
        why.append(_w(N_("%(tier)s customer, never suspend"), tier=tier))
    elif tier != "standard":
        why.append(_w(N_("%(tier)s customer"), tier=tier))
    eff = int(book.effective[i])
    twelve = policy.twelve_contacts
    texts = {
        "nearing_12th_contact": _w(
            N_("%(n)s effective contacts: the %(limit)sth is near"), n=eff, limit=twelve
        ),
        "past_12th_contact": _w(
            N_("%(n)s effective contacts and no deal yet: the %(limit)sth is reached"),
            n=eff,
            limit=twelve,
        ),
        "eligible_for_suspension": _w(
            N_(
                "may be suspended to the public pool: %(n)s contacts, "
                "chance to close %(p)s, under %(floor)s"
            ),
            n=eff,
            p=f"{book.p_close[i]:.1%}",
            floor=f"{policy.suspend_below_p:.1%}",
        ),
        "dormant_win_back": _w(
            N_("dormant: no order for %(days)s days"),
            days=f"{book.days_since(book.last_order[i : i + 1])[0]:.0f}",
        ),
        "manager_joining": _w(N_("%(n)s contacts without a deal: ask your manager to join"), n=eff),
    }
    if "past_12th_contact" in flags:
        # The 12th-contact line already says "no deal yet": do not say it twice.
        texts["manager_joining"] = _w(N_("ask your manager to join"))
    why.extend(texts[f] for f in flags)
    why.append(
        _w(
            N_("predicted value %(value)s (chance to close %(p)s × expected order)"),
            value=f"{book.predicted_value[i]:,.0f}",
            p=f"{book.p_close[i]:.1%}",
        )
    )
    return why


# ---------------------------------------------------------------- lists


def call_lists(
    book: Book,
    policy: Policy = DEFAULT,
    rep_id: str | None = None,
    limit: int | None = None,
    contacts: Mapping[str, Contact] | None = None,
    earlier: Mapping[str, float] | None = None,
) -> dict[str, list[CallLine]]:
    """Lists for one rep, or for every active rep that owns customers, from a book.

    `contacts`: each customer's details from `basic`; `earlier`: each customer's p_close
    `TREND_DAYS` before, for the trend (both optional).
    """
    capacity = policy.daily_capacity if limit is None else limit
    contacts = contacts or {}
    earlier = earlier or {}
    owned = ~book.in_pool
    if rep_id is not None:
        owned &= book.owner == rep_id
    c = cadence(book, policy)
    due_in = need_due_in(book)
    rows = np.flatnonzero(owned & ~c.cooling)
    priority = priorities(book, c, due_in, policy)
    states = due_states(book, c, due_in, policy)
    group = np.fromiter((_GROUP[g] for g in states), np.int64, len(states))
    must_keep = book.never_suspend & c.due
    # Never-suspend customers that are due first, then overdue, due, the rest, each by
    # priority; ties by customer id (the book's order) so the list is deterministic.
    order = np.lexsort((rows, -priority[rows], group[rows], ~must_keep[rows], book.owner_idx[rows]))
    rows = rows[order]
    owner = book.owner_idx[rows]
    starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    position = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    chosen = rows[position < capacity] if len(rows) else rows
    masks = flag_masks(book, policy)
    if rep_id is not None:
        reps = [rep_id]
    else:
        reps = [book.rep_ids[r] for r in np.unique(book.owner_idx[owned]).tolist()]
    lists: dict[str, list[CallLine]] = {r: [] for r in sorted(reps)}
    for i in chosen.tolist():
        rep = book.rep_ids[book.owner_idx[i]]
        line_flags = [f for f in FLAGS if masks[f][i]]
        lines = lists[rep]
        cid = str(book.customer_id[i])
        action = _action(book, i, bool(masks["dormant_win_back"][i]))
        trend, change = trend_of(float(book.p_close[i]), earlier.get(cid))
        whys = _why(book, i, c, float(due_in[i]), line_flags, policy)
        rep_state = book.reps.get(rep)
        lines.append(
            CallLine(
                rank=len(lines) + 1,
                rep_id=rep,
                customer_id=cid,
                action=action,
                priority=float(priority[i]),
                p_close=float(book.p_close[i]),
                predicted_value=float(book.predicted_value[i]),
                effective_contacts=int(book.effective[i]),
                days_since_contact=None if c.since_us[i] < 0 else int(c.since_us[i]) / DAY_US,
                flags=tuple(line_flags),
                why=tuple(map(text, whys)),
                why_parts=tuple(whys),
                score_source=str(book.score_source[i]),
                reasons=tuple(for_people(r) for r in str(book.reasons[i]).split("; ") if r),
                due_state=str(states[i]),
                channel=CHANNEL_OF[action],
                rep_name=(rep_state.name if rep_state is not None else None) or "",
                contact=contacts.get(cid, NOBODY),
                trend=trend,
                trend_change=change,
                status=str(book.status[i]),
                stage=str(book.stage[i]),
                tier=str(book.tier[i]),
            )
        )
    return lists


def due_counts(lines: list[CallLine]) -> dict[str, int]:
    """How many lines are overdue, due and new leads ("7 overdue, 12 due, 3 new leads")."""
    counts = dict.fromkeys(DUE_STATES, 0)
    for line in lines:
        counts[line.due_state] += 1
    return counts


def build_call_lists(
    states: Mapping[str, CustomerState],
    reps: Mapping[str, RepState],
    scores: pd.DataFrame,
    as_of: int,
    policy: Policy = DEFAULT,
    rep_id: str | None = None,
    limit: int | None = None,
    contacts: Mapping[str, Contact] | None = None,
) -> dict[str, list[CallLine]]:
    """Lists for one rep, or for every active rep that owns customers."""
    book = build_book(states, reps, scores, as_of)
    return call_lists(book, policy, rep_id, limit, contacts)


def lines_frame(lists: Mapping[str, list[CallLine]]) -> pd.DataFrame:
    """Every line as a table row (lists joined: flags by '|', why and reasons by '; ')."""
    rows = []
    for lines in lists.values():
        for line in lines:
            row = line.to_dict()
            row["flags"] = "|".join(row["flags"])
            row["why"] = "; ".join(row["why"])
            row["reasons"] = "; ".join(row["reasons"])
            rows.append(row)
    return pd.DataFrame(rows, columns=list(LIST_COLUMNS))
