"""What reps and managers work from, in the browser, at phone and desktop sizes, in the
team's languages: the call list (names, phones, counts, order, filters, paging, quick
logging), reasons in words, paged lists with counts, and the manager report.

The rep's list and the manager report in Traditional Chinese are saved as the README's
screenshots (docs/screenshots/).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streams.core.contract import validate
from streams.core.log import append_events
from tests.support.webworld import LiveServer, LogWriter, World, make_world, shot
from web.context import SERVICES

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 412, "height": 915}
DESKTOP = {"width": 1280, "height": 900}
NAMES = {"r1": "王小明", "r2": "李美玲", "r3": "陳志強", "m1": "張經理", "m2": "林經理"}
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
RAW_FLOAT = re.compile(r"(?<![\d.,])\d+\.\d{3,}(?![\d%])")
MANY = 40  # r1's customers beyond the shared world's: more than a page (25)


def _more_events(now: datetime) -> list[dict[str, Any]]:
    w = LogWriter(now)
    for rep, name in NAMES.items():
        team = "north" if rep in ("r1", "r2", "m1") else "south"
        role = "manager" if rep.startswith("m") else "rep"
        w.add("rep_joined", 300, None, rep, role=role, team=team, name=name)
    for k in range(MANY):
        cid = f"k{k:02d}"
        w.add("lead_created", 200, cid, "r1", source="referral", potential_value=5000 + 500 * k)
        basic = {
            "company": f"宏達印刷{k:02d}廠",
            "contact_name": "王先生",
            "phone": f"02-2345-67{k:02d}",
        }
        w.add("portrait_updated", 150, cid, "r1", section="basic", fields=basic)
        if k % 5 == 4:
            continue  # never reached: a new lead
        last = (16, 22, 35, 60)[k % 4]  # not yet due, due, overdue, long overdue
        for j in range(3):
            w.add("contact_made", last + 20 * j, cid, "r1", channel="phone")
        if k % 8 == 0:
            for section in ("needs", "competition"):
                w.add("portrait_updated", 100, cid, "r1", section=section, fields={"x": "y"})
            w.add("need_identified", 50, cid, "r1", clear_need=True, expected_value=80000)
    return [{**e, "event_id": f"w{i:05d}"} for i, e in enumerate(w.events)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    made = make_world(tmp_path_factory.mktemp("worklists"))
    now = datetime.now(UTC).replace(microsecond=0)
    append_events(made.log, [validate(e) for e in _more_events(now)])
    made.env["CLOSECAST_TIMEZONE"] = "Asia/Taipei"
    return made


@pytest.fixture(params=["phone", "desktop"])
def size(request: pytest.FixtureRequest, page: Any) -> Iterator[str]:
    page.set_viewport_size(PHONE if request.param == "phone" else DESKTOP)
    yield request.param


def log_in(page: Any, server: LiveServer, user: str, lang: str) -> None:
    page.goto(f"{server.url}/login?lang={lang}")
    page.locator('input[name="user"]').fill(user)
    page.locator('input[name="password"]').fill(server.world.passwords[user])
    page.locator('form button[type="submit"]').click()
    page.wait_for_load_state()


def looks_right(page: Any, lang: str) -> str:
    """What a person would notice at once: the language, overflow, raw times and floats."""
    assert page.locator("html").get_attribute("lang") == lang
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    text = page.locator("main").inner_text()
    assert not ISO_TIME.search(text), ISO_TIME.search(text)
    assert not RAW_FLOAT.search(text), RAW_FLOAT.search(text)
    for word in ("True", "False", "p_close", "(model)", "None"):
        assert word not in text, word
    return str(text)


def line_data(page: Any) -> list[dict[str, str]]:
    return list(
        page.locator("ol.calls > li").evaluate_all(
            "items => items.map(i => ({id: i.dataset.customer, due: i.dataset.due,"
            " channel: i.querySelector('select[name=channel]').value}))"
        )
    )


def test_a_rep_works_from_the_list_in_traditional_chinese(
    page: Any, server: LiveServer, size: str
) -> None:
    log_in(page, server, "alice", "zh-Hant")
    assert page.url.endswith("/calls")
    text = looks_right(page, "zh-Hant")
    assert "王小明 今日要聯繫的客戶" in page.locator("h1").inner_text()
    counts = page.locator("p.counts").inner_text()
    assert re.search(r"\d+ 位逾期", counts) and re.search(r"\d+ 位新潛在客戶", counts)
    assert "第 1–25 位" in text
    lines = line_data(page)
    assert len(lines) == 25
    # Overdue first, then due and new leads, then the rest: never "not yet due" above
    # (a never-suspend customer that is due, c2, goes before them all).
    order = {"overdue": 0, "due": 1, "new": 1, "not_due": 2}
    groups = [order[x["due"]] for x in lines if x["id"] != "c2"]
    assert groups == sorted(groups) and groups[0] == 0
    first = page.locator('ol.calls > li[data-customer^="k"]').first
    assert re.search(r"宏達印刷\d\d廠", first.locator("a.company").inner_text())
    assert first.locator("a.phone").get_attribute("href").startswith("tel:02-2345-67")
    assert "王先生" in first.inner_text()
    assert "成交機率" in first.inner_text() and "%" in first.inner_text()
    assert re.search(r"\d+ 天沒聯繫：已逾期", first.locator("ul").first.inner_text())
    reasons = first.locator("ul.reasons li").evaluate_all("els => els.map(e => e.textContent)")
    assert reasons and all(r.startswith(("提高機率：", "降低機率：")) for r in reasons)
    assert not any(re.search(r"[a-z]{4,}", r) for r in reasons), reasons  # no English left
    if size == "desktop":
        shot(page, "worklists-rep-zh-Hant")
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / "rep-call-list-zh-Hant.png"), full_page=False)


def test_the_list_pages_filters_and_preselects_the_channel(
    page: Any, server: LiveServer, size: str
) -> None:
    log_in(page, server, "alice", "en")
    looks_right(page, "en")
    page.locator('a[rel="next"]').first.click()
    page.wait_for_load_state()
    assert "Lines 26–" in page.locator("main").inner_text()
    looks_right(page, "en")
    page.goto(f"{server.url}/calls?due=overdue&sort=value")
    lines = line_data(page)
    assert lines and {x["due"] for x in lines} == {"overdue"}
    page.goto(f"{server.url}/calls?stage=teacher")
    lines = line_data(page)
    assert lines, "r1 has teacher-stage customers with a need"
    # A clear need with a deep relationship: a visit, and the form says so already.
    assert {x["channel"] for x in lines} == {"visit"}
    assert page.locator('select[name="channel"] option[selected]').first.inner_text() == "visit"


def test_logging_a_contact_with_a_note_that_did_not_get_through(
    page: Any, server: LiveServer
) -> None:
    log_in(page, server, "alice", "en")
    page.goto(f"{server.url}/calls?due=overdue")
    target = line_data(page)[0]["id"]
    line = page.locator(f'li[data-customer="{target}"]')
    line.locator('input[name="note"]').fill("no answer, try Tuesday")
    line.locator('input[name="not_effective"]').check()
    line.get_by_role("button", name="Log contact").click()
    page.wait_for_load_state()
    assert f"Recorded contact made for {target}" in page.get_by_role("status").inner_text()
    # Not reached: the cadence does not restart, so the customer stays on the list.
    assert target in [x["id"] for x in line_data(page)]
    state = server.call(lambda: server.app[SERVICES].ledger.customer(target))
    assert state.contacts == state.effective + 1


def test_reasons_read_in_words_and_the_chance_as_a_percentage(
    page: Any, server: LiveServer
) -> None:
    log_in(page, server, "alice", "en")
    page.locator("ol.calls > li a.company").first.click()
    page.wait_for_load_state()
    looks_right(page, "en")
    score = page.locator("#score").inner_text()
    assert re.search(r"chance to close \d+(\.\d)?%", score)
    reasons = page.locator("ul.reasons li").all_inner_texts()
    assert reasons and all(
        r.startswith(("raises the chance: ", "lowers the chance: ")) for r in reasons
    )


def test_the_rep_sees_the_whole_pool_paged_with_claim_buttons(
    page: Any, server: LiveServer, size: str
) -> None:
    log_in(page, server, "alice", "zh-Hans")
    page.goto(f"{server.url}/pool")
    text = looks_right(page, "zh-Hans")
    assert re.search(r"\d+ 位客户没有负责业务", text)
    claims = page.locator("ul.pool-claims li")
    assert claims.count() >= 1
    assert claims.first.get_by_role("button", name="认领").count() == 1
    assert re.search(r"共 \d+ 条", text)


def test_the_manager_report_in_order_with_names_and_each_reps_list(
    page: Any, server: LiveServer, size: str
) -> None:
    log_in(page, server, "mona", "zh-Hant")
    assert page.url.endswith("/manager")
    text = looks_right(page, "zh-Hant")
    stages = page.locator('svg[aria-label="各畫像階段的客戶"] text[text-anchor="end"]')
    shown = stages.evaluate_all("els => els.map(e => e.textContent)")  # SVG: no innerText
    wanted = ["無", "醫生", "老師", "朋友", "兄弟"]
    assert shown and shown == [s for s in wanted if s in shown]
    funnel = page.locator('table[aria-label="各業務漏斗"]').inner_text()
    assert "王小明" in funnel and "李美玲" in funnel
    assert "張經理" not in funnel  # the manager's own empty row is gone
    assert re.search(r"第 1–\d+ 筆，共 \d+ 筆", text)
    if size == "desktop":
        shot(page, "worklists-manager-zh-Hant")
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / "manager-report-zh-Hant.png"), full_page=False)
    page.locator("ul.reps a", has_text="李美玲").click()
    page.wait_for_load_state()
    assert "李美玲" in page.locator("h1").inner_text()
    looks_right(page, "zh-Hant")
    # Switching the language keeps the page: the same rep's list, now in English.
    page.locator("nav.langs a", has_text="English").click()
    page.wait_for_load_state()
    assert (
        "rep=r2" in page.url and "Today's calls for 李美玲 (r2)" in page.locator("h1").inner_text()
    )
    looks_right(page, "en")


def test_alerts_say_how_many_and_page(page: Any, server: LiveServer, size: str) -> None:
    log_in(page, server, "mona", "en")
    page.goto(f"{server.url}/alerts")
    text = looks_right(page, "en")
    assert re.search(r"join in \(\d+\)", text)
    page.goto(f"{server.url}/calls")
    # "Call lists" opens a rep of the team, not the manager's own empty list.
    assert "(r1)" in page.locator("h1").inner_text() or "(r2)" in page.locator("h1").inner_text()
