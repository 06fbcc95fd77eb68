"""Languages: every text the pages show has its Traditional and Simplified Chinese, and
numbers, percentages, dates and times follow the language and the team's time zone."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from web.i18n import LOCALE_DIR, Lang, choose, days_ago, gettext, num, pct, using, when
from web.labels import cell, heading, label

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}


def _source_messages() -> set[str]:
    from web.reasons import messages

    found: set[str] = set(messages())  # built from the scorers' templates
    method_map = [
        ("web/**.py", "python"),
        ("planning/calllist.py", "python"),
        ("closecast/commands/calllist_view.py", "python"),
        ("web/templates/**.html", "jinja2"),
    ]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options, keywords=KEYWORDS):
        for text in message if isinstance(message, tuple) else (message,):
            if text:
                found.add(text)
    return found


@pytest.mark.parametrize("folder", ["zh_Hant", "zh_Hans"])
def test_every_text_of_the_pages_is_translated(folder: str) -> None:
    wanted = _source_messages()
    assert len(wanted) > 200  # the extraction is live: the pages have this many texts
    with (LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    translated = {str(m.id) for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(wanted - translated)
    assert missing == [], f"untranslated in {folder} (run `make messages`): {missing[:10]}"


def test_the_language_is_chosen_by_the_user_then_the_browser() -> None:
    assert choose("zh-Hans", "zh-Hant", "en") == "zh-Hans"
    assert choose(None, "zh-Hant", "en") == "zh-Hant"
    assert choose(None, None, "zh-TW,zh;q=0.9,en;q=0.5") == "zh-Hant"
    assert choose(None, None, "zh-CN,zh;q=0.9") == "zh-Hans"
    assert choose(None, None, "fr-FR, en;q=0.3") == "en"
    assert choose("xx", None, None) == "en"


def test_texts_numbers_and_times_follow_the_language_and_the_team_zone() -> None:
    moment = "2026-11-30T01:59:50.639+00:00"
    with using(Lang("zh-Hant", "Asia/Taipei")):
        assert gettext("Call list") == "今日聯繫"
        assert label("stage", "doctor") == "醫生"
        assert heading("contact_name") == "聯絡人"
        assert when(moment) == "2026年11月30日 上午9:59"
        assert days_ago(0.3) == "今天"
    with using(Lang("zh-Hans", "Asia/Shanghai")):
        assert gettext("Call list") == "今日联系"
        assert when(moment) == "2026年11月30日 09:59"
    with using(Lang("en", "UTC")):
        assert when(moment) == "Nov 30, 2026, 1:59\u202fAM"  # CLDR: a narrow no-break space
        assert num(19743.0) == "19,743"
        assert pct(0.0773) == "7.7%"
        assert days_ago(12.6) == "12 days ago"
        assert cell("listed", True) == "yes"
        assert cell("tenure_days", 4185.4) == "4,185"
        assert cell("p_close", 0.4873) == "48.7%"
        assert cell("reasons", "+ 3 visits (model)") == "raises the chance: 3 visits"


def test_score_reasons_read_in_the_language_with_their_own_numbers() -> None:
    from web.reasons import translate

    with using(Lang("zh-Hant")):
        assert translate("+ 13 effective contacts of the ~12 a deal usually needs") == (
            "提高機率：有效聯繫 13 次（成交通常需約 12 次）"
        )
        assert translate("- follow-up overdue: 45 days since the last contact (model)") == (
            "降低機率：跟進逾期：距上次聯繫 45 天"
        )
        assert translate("+ portrait stage: friend") == "提高機率：畫像階段：朋友"
        assert translate("+ existing customer with 2 orders, dormant: win back") == (
            "提高機率：既有客戶，2 筆訂單，沉睡：喚醒"
        )
        assert translate("+ something no scorer says") == "提高機率：something no scorer says"
    with using(Lang("zh-Hans")):
        assert translate("- 1 visit (model)") == "降低概率：拜访 1 次"
    with using(Lang("en")):
        assert translate("- 1 visit (model)") == "lowers the chance: 1 visit"
