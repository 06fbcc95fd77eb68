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
    "trend": {"up": N_("up"), "steady": N_("steady"), "down": N_("down")},
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
