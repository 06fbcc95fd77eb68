"""The words people see for the product's codes (due states, actions, channels, stages,
flags, portrait keys...), each a gettext message so every language names them."""

from __future__ import annotations

from typing import Final

from web.i18n import gettext, points


def N_(text: str) -> str:
    """Marks a message for extraction; translated when shown."""
    return text


LABELS: Final[dict[str, dict[str, str]]] = {
    "due": {
        "overdue": N_("overdue"),
        "due": N_("due today"),
        "new": N_("new lead"),
        "not_due": N_("not yet due"),
    },
    "action": {
        "call": N_("call"),
        "visit": N_("visit"),
        "invite": N_("invite to visit us"),
        "win back": N_("win back"),
    },
    "channel": {
        "phone": N_("phone"),
        "wechat": N_("WeChat"),
        "sms": N_("SMS"),
        "email": N_("email"),
        "visit": N_("visit"),
        "hosted_visit": N_("hosted visit"),
    },
    "stage": {
        "none": N_("none"),
        "doctor": N_("doctor"),
        "teacher": N_("teacher"),
        "friend": N_("friend"),
        "brother": N_("brother"),
    },
    "status": {"lead": N_("lead"), "customer": N_("customer"), "suspended": N_("suspended")},
    "tier": {"standard": N_("standard"), "key": N_("key"), "vvip": N_("VVIP")},
    "flag": {
        "nearing_12th_contact": N_("12th contact near"),
        "past_12th_contact": N_("12 contacts, no deal"),
        "eligible_for_suspension": N_("may be suspended"),
        "dormant_win_back": N_("dormant: win back"),
        "manager_joining": N_("manager to join"),
    },
    "source": {"model": N_("trained model"), "heuristic": N_("scorecard")},
    "section": {
        "basic": N_("basic"),
        "background": N_("background"),
        "needs": N_("needs"),
        "competition": N_("competition"),
        "deep": N_("deep"),
        "extended": N_("extended"),
    },
    "event": {
        "lead_created": N_("lead created"),
        "contact_made": N_("contact"),
        "portrait_updated": N_("portrait updated"),
        "need_identified": N_("need identified"),
        "quote_sent": N_("quote sent"),
        "order_won": N_("order won"),
        "order_lost": N_("order lost"),
        "importance_set": N_("importance set"),
        "customer_suspended": N_("suspended to the pool"),
        "customer_assigned": N_("assigned"),
        "complaint_received": N_("complaint"),
    },
    "trend": {"up": N_("up"), "steady": N_("steady"), "down": N_("down")},
    "loss": {
        "price": N_("price"),
        "timing": N_("timing"),
        "need_mismatch": N_("need mismatch"),
        "competitor": N_("competitor"),
        "other": N_("other"),
    },
    "size": {
        "unknown-size": N_("unknown-size"),
        "small": N_("small"),
        "medium": N_("medium"),
        "large": N_("large"),
    },
    "model": {
        "current": N_("current"),
        "candidate": N_("candidate"),
        "unreadable": N_("unreadable"),
    },
    "role": {
        "rep": N_("rep"),
        "manager": N_("manager"),
        "analyst": N_("analyst"),
        "admin": N_("admin"),
    },
    "field": {
        "company": N_("Company"),
        "contact_name": N_("Contact"),
        "title": N_("Title"),
        "phone": N_("Phone"),
        "email": N_("Email"),
        "employees": N_("Employees"),
        "founded": N_("Founded"),
        "listed": N_("Listed company"),
        "products": N_("Products"),
        "annual_volume": N_("Annual volume"),
        "quality_focus": N_("Quality focus"),
        "main_supplier": N_("Main supplier"),
        "supplier_count": N_("Suppliers"),
        "satisfaction": N_("Satisfaction"),
        "updated_at": N_("Updated"),
        "updated_by": N_("Updated by"),
    },
}


def label(kind: str, code: object) -> str:
    """The shown word for a code ("past_12th_contact" -> "12 contacts, no deal")."""
    text = str(code)
    known = LABELS.get(kind, {}).get(text)
    if known is not None:
        return gettext(known)
    return text.replace("_", " ")


def choices(kind: str) -> list[tuple[str, str]]:
    return [(code, gettext(text)) for code, text in LABELS[kind].items()]


def trend_label(trend: str, change: float | None) -> str:
    """'up +2.3 pts' / '上升 +2.3 個百分點'."""
    if not trend:
        return ""
    return f"{label('trend', trend)} {points(change)}"


# ---------------------------------------------------------------- table cells

_PERCENT_COLUMNS: Final = frozenset(
    {"p_close", "conversion", "ineffective_share", "share", "auc", "brier", "fit_share"}
)
_REP_COLUMNS: Final = frozenset({"owner", "last_owner", "suspended_by", "rep", "assigned_rep"})
_COLUMN_LABELS: Final[dict[str, str]] = {
    "customer_id": N_("Customer"),
    "rep_id": N_("Rep"),
    "name": N_("Name"),
    "owner": N_("Owner"),
    "p_close": N_("Chance to close"),
    "predicted_value": N_("Predicted value"),
    "expected_value": N_("Expected order"),
    "effective_contacts": N_("Effective contacts"),
    "days_since_contact": N_("Days since contact"),
    "days_since_order": N_("Days since order"),
    "stage": N_("Stage"),
    "reasons": N_("Why this chance"),
    "score_source": N_("Scored by"),
    "leads": N_("Leads"),
    "deals": N_("Deals"),
    "conversion": N_("Conversion"),
    "tenure_days": N_("Days in the team"),
    "new_rep": N_("New rep"),
    "active": N_("Active"),
    "team": N_("Team"),
    "role": N_("Role"),
    "verdict": N_("Verdict"),
    "note": N_("Note"),
    "orders": N_("Orders"),
    "order_value": N_("Order value"),
    "why": N_("Why"),
    "last_owner": N_("Last owner"),
    "never_suspend": N_("Never suspend"),
    "severity": N_("Severity"),
    "shortfall": N_("Shortfall"),
    "target": N_("Target"),
    "prospects_7d": N_("Prospects (7 days)"),
    "weekly_effective_contacts": N_("Effective contacts a week"),
    "contacted": N_("Contacted"),
    "quoted": N_("Quoted"),
    "expected": N_("Expected range"),
    "assigned_value": N_("Assigned value"),
    "fit": N_("Fit"),
    "as_of": N_("As of"),
    "suspended_at": N_("Suspended at"),
    "suspended_by": N_("Suspended by"),
    "rule": N_("Rule"),
    "effective_before": N_("Effective contacts before"),
    "event_id": N_("Event"),
}


def heading(column: str) -> str:
    known = _COLUMN_LABELS.get(column) or LABELS["field"].get(column)
    return gettext(known) if known else column.replace("_", " ")


def _looks_like_time(text: str) -> bool:
    return len(text) >= 16 and text[4] == "-" and text[7] == "-" and text[10] in "T "


def cell(column: str, value: object, rep_names: dict[str, str] | None = None) -> str:
    """A table value as a person reads it: percentages, grouped numbers, local times,
    yes/no, labels for codes, names for rep ids, reasons in words."""
    from web.i18n import day, num, pct, when

    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if column in _REP_COLUMNS and isinstance(value, str) and rep_names:
        return rep_names.get(value, value)
    if column in _PERCENT_COLUMNS and isinstance(value, int | float):
        return pct(float(value))
    if isinstance(value, float):
        return num(value, 0 if abs(value) >= 10 or value == int(value) else 1)
    if isinstance(value, int):
        return num(value)
    if isinstance(value, str):
        if column == "reasons":
            from web.reasons import translate

            return "; ".join(translate(r) for r in value.split("; ") if r)
        if column in ("stage", "status", "tier"):
            return label(column, value)
        if column == "score_source":
            return label("source", value)
        if _looks_like_time(value):
            return when(value)
        if len(value) == 10 and value[4] == "-" and value[7] == "-":
            return day(value + "T00:00:00+00:00")
        return value
    return str(value)


def why_text(message: str, values: tuple[tuple[str, str], ...]) -> str:
    """A call-list reason (`planning.calllist.Why`) in the current language, its values as
    the list wrote them (a tier code gets its label)."""
    filled = {k: label("tier", v) if k == "tier" else v for k, v in values}
    return gettext(message) % filled if filled else gettext(message)
