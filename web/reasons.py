"""The score's reasons in the page's language.

Reasons are stored as English sentences built from the scorers' templates (the
scorecard's terms in `models.heuristic`, the trained model's topics in
`models.wording`). Each template is turned once into a pattern that reads its values
back and a gettext message (`{orders:.0f}` -> `%(orders)s`), so a stored reason is shown
in the user's language with its own numbers; a sentence no template matches is shown as
it was written.
"""

from __future__ import annotations

import re
from functools import cache
from string import Formatter
from typing import Final

import numpy as np

from models.reasons import DOWN, UP, for_people
from web.i18n import gettext
from web.labels import N_, label

# The direction words of `models.reasons.for_people`, as messages.
DIRECTIONS: Final = {UP: N_("raises the chance"), DOWN: N_("lowers the chance")}
_JOIN: Final = N_("%(direction)s: %(reason)s")
# Template fields whose values are codes with labels of their own.
_CODED: Final = {"stage_name": "stage", "tier_name": "tier", "size_name": "size"}
# The scorecard's one derived phrase (models.reasons.DERIVED["dormant_note"]).
_NOTES: Final = {", dormant: win back": N_(", dormant: win back")}


def templates() -> list[str]:
    """Every reason template of both scorers."""
    from features.customer import FEATURE_NAMES
    from models.heuristic import HeuristicModel
    from models.wording import TOPICS

    found = [t.template for t in HeuristicModel().terms(np.zeros((1, len(FEATURE_NAMES))))]
    found += [text for topic in TOPICS for _, text in topic.variants]
    return list(dict.fromkeys(found))


def messages() -> list[str]:
    """Every reason message, for the catalogues (`make messages` cannot see them: they
    are built from the scorers' templates) and the completeness test."""
    return [*map(message_of, templates()), *DIRECTIONS.values(), *_NOTES.values(), _JOIN]


def message_of(template: str) -> str:
    """'{orders:.0f} orders' -> '%(orders)s orders' (the gettext message)."""
    out = []
    for literal, field, _, _ in Formatter().parse(template):
        out.append(literal.replace("%", "%%"))
        if field is not None:
            out.append(f"%({field})s")
    return "".join(out)


def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for literal, field, _, _ in Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append(f"(?P<{field}>.*?)")
    return re.compile("^" + "".join(parts) + "$")


@cache
def _compiled() -> list[tuple[re.Pattern[str], str]]:
    # Longer templates first: "1 visit" must not be read by "{visits:.0f} visits".
    ordered = sorted(templates(), key=len, reverse=True)
    return [(_pattern(t), message_of(t)) for t in ordered]


def translate(reason: str) -> str:
    """A stored reason ('+ 3 visits (model)') in the page's language."""
    shown = for_people(reason)
    direction, sep, sentence = shown.partition(": ")
    if direction not in DIRECTIONS or not sep:
        direction, sentence = "", shown
    for pattern, message in _compiled():
        found = pattern.match(sentence)
        if found is None:
            continue
        values = {
            k: label(_CODED[k], v) if k in _CODED else gettext(_NOTES[v]) if v in _NOTES else v
            for k, v in found.groupdict().items()
        }
        text = gettext(message) % values if values else gettext(message)
        break
    else:
        text = sentence
    if not direction:
        return text
    return gettext(_JOIN) % {"direction": gettext(DIRECTIONS[direction]), "reason": text}


def add_to_template(path: str) -> None:
    """Add the reason messages to an extracted catalogue template (`make messages`)."""
    from babel.messages.pofile import read_po, write_po

    with open(path, "rb") as handle:
        catalog = read_po(handle)
    for message in messages():
        catalog.add(message)
    with open(path, "wb") as handle:
        write_po(handle, catalog, no_location=True, sort_output=True)


if __name__ == "__main__":
    import sys

    add_to_template(sys.argv[1])
