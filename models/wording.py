"""How a trained model's reasons read: features grouped into topics a rep recognises.

A trained model spreads its evidence over many correlated features (orders, order value
and days since the last order all say "existing customer"). Reasons list the topics, not
the features: the contributions of a topic's features are summed, and the sentence is
the first of the topic's variants whose condition holds for that customer, so a lead
reads "no order yet" once rather than three near-synonyms. Every feature of
`features.customer.FEATURES` belongs to exactly one topic (a test holds this), and the
sentences restate those documented meanings in a rep's words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from features.customer import CAP_DAYS, INDEX
from models.reasons import Term
from streams.core.contract import SOURCES

# A condition: (feature, operator, value); None is "otherwise".
Condition = tuple[str, str, float] | None
SUFFIX: Final = " (model)"

_OPS: Final[dict[str, Callable[[np.ndarray, float], np.ndarray]]] = {
    "==": np.equal,
    "<": np.less,
    ">": np.greater,
    ">=": np.greater_equal,
}

# Features the feature code fills with a placeholder where they do not apply: the share
# of follow-ups that failed, for a customer never followed up, is 0; the gap statistics
# of fewer than two (three) contacts are 0. An additive attribution still credits the
# placeholder with the effect of a real 0 ("every follow-up got through"), which would
# read as "+ no effective contact yet"; there, such a feature contributes nothing.
NOT_APPLICABLE: Final[dict[str, tuple[str, str, float]]] = {
    "ineffective_share": ("total_contacts", "==", 0.0),
    "mean_gap_days": ("effective_contacts", "<", 2.0),
    "cadence_deviation": ("effective_contacts", "<", 2.0),
    "gap_cv": ("effective_contacts", "<", 3.0),
}


def _mask(X: np.ndarray, condition: tuple[str, str, float]) -> np.ndarray:
    feature, op, value = condition
    return np.asarray(_OPS[op](X[:, INDEX[feature]], value))


@dataclass(frozen=True)
class Topic:
    name: str
    features: tuple[str, ...]
    variants: tuple[tuple[Condition, str], ...]  # the last one's condition is None

    def choice(self, X: np.ndarray) -> np.ndarray:
        """Per row, the index of the first variant whose condition holds."""
        conditions = []
        for condition, _ in self.variants[:-1]:
            assert condition is not None
            conditions.append(_mask(X, condition))
        default = len(self.variants) - 1
        if not conditions:
            return np.full(X.shape[0], default, dtype=np.int8)
        return np.select(conditions, list(range(default)), default).astype(np.int8)


def _source_variants() -> tuple[tuple[Condition, str], ...]:
    named = tuple(
        ((f"source_{s}", "==", 1.0), f"lead source: {s.replace('_', ' ')}") for s in SOURCES
    )
    return (*named, (None, "lead source not recorded"))


TOPICS: Final[tuple[Topic, ...]] = (
    Topic(
        "contacts",
        ("effective_contacts", "total_contacts", "ineffective_share"),
        (
            (("effective_contacts", "==", 0.0), "no effective contact yet"),
            (("effective_contacts", "==", 1.0), "1 effective contact"),
            (None, "{effective_contacts:.0f} effective contacts"),
        ),
    ),
    Topic(
        "recent_contacts",
        ("contacts_30d", "contacts_90d"),
        (
            (("contacts_90d", "==", 0.0), "no effective contact in the last 90 days"),
            (("contacts_90d", "==", 1.0), "1 effective contact in the last 90 days"),
            (None, "{contacts_90d:.0f} effective contacts in the last 90 days"),
        ),
    ),
    Topic(
        "recency",
        ("days_since_contact", "overdue_ratio"),
        (
            (("days_since_contact", ">=", CAP_DAYS), "never reached effectively"),
            (
                ("overdue_ratio", ">", 1.0),
                "follow-up overdue: {days_since_contact:.0f} days since the last contact",
            ),
            (None, "last effective contact {days_since_contact:.0f} days ago"),
        ),
    ),
    Topic(
        "cadence",
        ("mean_gap_days", "gap_cv", "cadence_deviation"),
        (
            (("mean_gap_days", "==", 0.0), "too few contacts to show a cadence"),
            (None, "a contact every {mean_gap_days:.0f} days on average"),
        ),
    ),
    Topic(
        "relationship",
        ("relationship_days", "lead_age_days"),
        (
            (("relationship_days", "==", 0.0), "known {lead_age_days:.0f} days, not yet reached"),
            (None, "followed up for {relationship_days:.0f} days"),
        ),
    ),
    Topic(
        "visits",
        ("visits",),
        (
            (("visits", "==", 0.0), "no visit yet"),
            (("visits", "==", 1.0), "1 visit"),
            (None, "{visits:.0f} visits"),
        ),
    ),
    Topic(
        "portrait",
        ("portrait_sections", "stage", "days_since_portrait"),
        (
            (("portrait_sections", "==", 0.0), "no customer portrait yet"),
            (None, "portrait stage: {stage_name} ({portrait_sections:.0f} of 6 sections known)"),
        ),
    ),
    Topic(
        "need",
        ("clear_need", "need_age_days", "need_due_days", "need_value_log"),
        (
            (("clear_need", "==", 0.0), "no clear order need"),
            (
                ("need_value_log", ">", 0.0),
                "clear order need worth about {need_value:,.0f}, "
                "identified {need_age_days:.0f} days ago",
            ),
            (None, "clear order need identified {need_age_days:.0f} days ago"),
        ),
    ),
    Topic(
        "quotes",
        ("quotes", "quote_open", "days_since_quote"),
        (
            (
                ("quote_open", "==", 1.0),
                "a quote is waiting for an answer (sent {days_since_quote:.0f} days ago)",
            ),
            (("quotes", "==", 1.0), "1 quote sent, no answer pending"),
            (("quotes", ">", 0.0), "{quotes:.0f} quotes sent, none open"),
            (None, "no quote sent yet"),
        ),
    ),
    Topic(
        "losses",
        ("losses", "days_since_loss"),
        (
            (("losses", "==", 1.0), "1 opportunity lost, {days_since_loss:.0f} days ago"),
            (
                ("losses", ">", 0.0),
                "{losses:.0f} opportunities lost, the last {days_since_loss:.0f} days ago",
            ),
            (None, "no opportunity lost"),
        ),
    ),
    Topic(
        "orders",
        ("orders", "order_value_log", "days_since_order", "dormant", "days_since_first_order"),
        (
            (
                ("dormant", "==", 1.0),
                "dormant customer: last order {days_since_order:.0f} days ago",
            ),
            (("orders", "==", 1.0), "existing customer: 1 order, {days_since_order:.0f} days ago"),
            (
                ("orders", ">", 0.0),
                "existing customer: {orders:.0f} orders, the last {days_since_order:.0f} days ago",
            ),
            (None, "no order yet"),
        ),
    ),
    Topic(
        "importance",
        ("tier", "never_suspend"),
        (
            (("never_suspend", "==", 1.0), "importance tier {tier_name}, never to be suspended"),
            (("tier", ">", 0.0), "importance tier {tier_name}"),
            (None, "standard importance"),
        ),
    ),
    Topic(
        "company",
        ("size", "potential_value_log"),
        (
            (
                ("potential_value_log", ">", 0.0),
                "{size_name} company, potential about {potential_value:,.0f} a year",
            ),
            (None, "{size_name} company"),
        ),
    ),
    Topic("source", tuple(f"source_{s}" for s in SOURCES), _source_variants()),
    Topic(
        "pool",
        ("in_pool", "suspensions", "assignments"),
        (
            (("in_pool", "==", 1.0), "in the public pool: nobody follows it up"),
            (("suspensions", "==", 1.0), "back from the pool after a suspension"),
            (("suspensions", ">", 0.0), "back from the pool after {suspensions:.0f} suspensions"),
            (("assignments", "==", 1.0), "reassigned once"),
            (("assignments", ">", 0.0), "reassigned {assignments:.0f} times"),
            (None, "with its first owner"),
        ),
    ),
    Topic(
        "complaints",
        ("complaints_minor", "complaints_major", "days_since_complaint"),
        (
            (("complaints_major", "==", 1.0), "1 major complaint"),
            (("complaints_major", ">", 0.0), "{complaints_major:.0f} major complaints"),
            (("complaints_minor", "==", 1.0), "1 minor complaint"),
            (("complaints_minor", ">", 0.0), "{complaints_minor:.0f} minor complaints"),
            (None, "no complaints"),
        ),
    ),
    Topic(
        "owner",
        ("rep_tenure_days", "rep_new", "rep_conversion_26w", "rep_contacts_4w"),
        (
            (("rep_tenure_days", "==", 0.0), "no owner"),
            (
                ("rep_new", "==", 1.0),
                "owner is a new rep ({rep_tenure_days:.0f} days), "
                "recent conversion {rep_conversion_26w:.1%}",
            ),
            (None, "owner's recent conversion {rep_conversion_26w:.1%}"),
        ),
    ),
)


def topic_terms(X: np.ndarray, contributions: dict[str, np.ndarray]) -> list[Term]:
    """One `Term` per topic: its features' contributions summed, worded per row.

    `contributions` maps a feature to its per-row contribution to the log-odds; a feature
    left out contributes nothing (a tree model may never split on it).
    """
    contributions = dict(contributions)
    for feature, condition in NOT_APPLICABLE.items():
        if feature in contributions:
            contributions[feature] = np.where(_mask(X, condition), 0.0, contributions[feature])
    terms = []
    for topic in TOPICS:
        parts = [contributions[f] for f in topic.features if f in contributions]
        if not parts:
            continue
        values = parts[0].copy() if len(parts) > 1 else parts[0]
        for part in parts[1:]:
            values += part
        variants = tuple(text + SUFFIX for _, text in topic.variants)
        terms.append(Term(topic.name, values, variants[-1], variants, topic.choice(X)))
    return terms
