"""Languages and local time for the pages: Traditional Chinese, Simplified Chinese, English.

Texts come from gettext catalogues (`web/locale/<zh_Hant|zh_Hans>/LC_MESSAGES/messages.po`, read by
Babel when the server starts: no compile step, so a fresh clone serves every language);
dates, numbers and percentages are Babel's for the chosen locale; times are shown in the
team's time zone (`CLOSECAST_TIMEZONE`). The language is the user's choice (`?lang=`,
then remembered in a cookie), else the browser's Accept-Language, else English.

The current language lives in a context variable set per request, so the templates'
`_()` and the formatting helpers need no argument threading.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from babel import Locale, negotiate_locale
from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LOCALE_DIR: Final = Path(__file__).parent / "locale"
# Page language tag -> Babel locale. The tag goes into <html lang>.
LANGUAGES: Final = {"zh-Hant": "zh_Hant_TW", "zh-Hans": "zh_Hans_CN", "en": "en"}
NAMES: Final = {"zh-Hant": "繁體中文", "zh-Hans": "简体中文", "en": "English"}
DEFAULT: Final = "en"
COOKIE: Final = "closecast_lang"


@dataclass(frozen=True)
class Lang:
    tag: str  # zh-Hant | zh-Hans | en
    zone: str = "UTC"

    @property
    def locale(self) -> Locale:
        return Locale.parse(LANGUAGES[self.tag])


_ENGLISH: Final = Lang(DEFAULT)
_current: contextvars.ContextVar[Lang | None] = contextvars.ContextVar("lang", default=None)


@contextmanager
def using(lang: Lang) -> Iterator[None]:
    token = _current.set(lang)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Lang:
    return _current.get() or _ENGLISH


def choose(asked: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page language: asked for, remembered, or the browser's first we speak."""
    for tag in (asked, cookie):
        if tag in LANGUAGES:
            return tag
    wanted = []
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip()
        if tag:
            wanted.append(tag.replace("-", "_"))
    # zh-TW / zh-HK read Traditional, zh-CN / zh-SG / plain zh Simplified.
    aliases = {"zh_TW": "zh_Hant", "zh_HK": "zh_Hant", "zh_MO": "zh_Hant", "zh_CN": "zh_Hans"}
    aliases |= {"zh_SG": "zh_Hans", "zh": "zh_Hans"}
    wanted = [aliases.get(w, w) for w in wanted]
    found = negotiate_locale(wanted, ["zh_Hant", "zh_Hans", "en"], sep="_")
    return {"zh_Hant": "zh-Hant", "zh_Hans": "zh-Hans", "en": "en"}.get(found or "", DEFAULT)


@cache
def catalog(tag: str) -> Catalog | None:
    path = LOCALE_DIR / LANGUAGES[tag].rsplit("_", 1)[0] / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=LANGUAGES[tag])


def gettext(message: str) -> str:
    book = catalog(current().tag)
    if book is None:
        return message
    entry = book.get(message)
    if entry is None or not entry.string or entry.fuzzy:
        return message
    return str(entry.string)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


# ---------------------------------------------------------------- numbers and times


def num(value: float | int | None, digits: int = 0) -> str:
    """A number as people write it in the current locale ("12,345"; "—" when unknown)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(value, format=pattern, locale=current().locale))


def pct(value: float | None, digits: int = 1) -> str:
    """A probability or share as a percentage, the one way it is shown everywhere."""
    if value is None or not math.isfinite(value):
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return str(format_percent(value, format=pattern, locale=current().locale))


def points(change: float | None) -> str:
    """A change of a probability, in percentage points with its sign ("+2.3 pts")."""
    if change is None:
        return ""
    shown = round(abs(change) * 100, 1)
    sign = "±" if shown == 0 else "+" if change > 0 else "−"
    return gettext("%(sign)s%(n)s pts") % {"sign": sign, "n": num(abs(change) * 100, 1)}


def _moment(value: str | int | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        from streams.core.contract import to_datetime

        return to_datetime(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value


def when(value: str | int | datetime | None) -> str:
    """A moment in the team's time zone, to the minute, the locale's way (no microseconds)."""
    moment = _moment(value)
    if moment is None:
        return "—"
    zone = ZoneInfo(current().zone)
    local = moment.astimezone(zone)
    text = str(format_datetime(local, format="medium", locale=current().locale))
    # Babel's "medium" carries seconds (hh:mm:ss); people read minutes.
    if text.count(":") == 2:
        cut = text.rfind(":")
        text = text[:cut] + text[cut + 3 :]
    return text


def day(value: str | int | datetime | None) -> str:
    """A date in the team's time zone, the locale's way."""
    moment = _moment(value)
    if moment is None:
        return "—"
    local = moment.astimezone(ZoneInfo(current().zone)) if moment.tzinfo else moment
    return str(format_date(local.date(), format="medium", locale=current().locale))


def yes_no(value: object) -> str:
    return gettext("yes") if value else gettext("no")


def days_ago(days: float | None) -> str:
    """'today', 'yesterday', '12 days ago' (never '0.3 days ago')."""
    if days is None or not math.isfinite(days):
        return "—"
    whole = int(days)
    if whole <= 0:
        return gettext("today")
    if whole == 1:
        return gettext("yesterday")
    return gettext("%(n)s days ago") % {"n": num(whole)}
