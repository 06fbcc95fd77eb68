"""A rep, a manager, an analyst and an admin use the real pages in headless Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.webworld import CANARIES, LiveServer, shot

pytestmark = pytest.mark.browser


def log_in(page: Any, server: LiveServer, user: str) -> None:
    page.goto(f"{server.url}/")
    assert "/login" in page.url
    page.get_by_label("User").fill(user)
    page.get_by_label("Password").fill(server.world.passwords[user])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def assert_no_canary(page: Any) -> None:
    html = page.content()
    assert not any(c in html for c in CANARIES)


def test_a_rep_reads_the_list_records_a_contact_and_sees_the_list_change(
    page: Any, server: LiveServer
) -> None:
    page.goto(f"{server.url}/login")
    shot(page, "01-login")
    log_in(page, server, "alice")
    assert page.url.endswith("/calls")
    lines = page.locator("ol.calls > li")
    before = lines.evaluate_all("items => items.map(i => i.dataset.customer)")
    assert before, "alice has customers due today"
    shot(page, "02-rep-call-list")
    first = before[0]
    # The customer page: state, score with reasons, next step, history.
    page.locator(f'li[data-customer="{first}"] a.company').click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == f"Customer {first}"
    assert "chance to close" in page.locator("#score").inner_text()
    shot(page, "03-rep-customer")
    page.go_back()
    page.wait_for_load_state()
    page.locator(f'li[data-customer="{first}"]').get_by_role("button", name="Log contact").click()
    page.wait_for_load_state()
    assert page.url.split("?")[0].endswith("/calls")
    assert f"Recorded contact made for {first}" in page.get_by_role("status").inner_text()
    after = page.locator("ol.calls > li").evaluate_all(
        "items => items.map(i => i.dataset.customer)"
    )
    assert first not in after  # contacted today: off the list until its next follow-up
    shot(page, "04-rep-call-list-after-contact")
    assert_no_canary(page)


def test_a_rep_is_refused_another_reps_customer_and_a_vvip_portrait(
    page: Any, server: LiveServer
) -> None:
    log_in(page, server, "alice")
    response = page.goto(f"{server.url}/customers/c3")
    # Another rep's customer answers as one that does not exist (issue 13).
    assert response.status == 404
    assert "Not found" in page.locator("h1").inner_text()
    assert "no customer 'c3'" in page.get_by_role("alert").inner_text()
    shot(page, "05-rep-refused-other-customer")
    page.goto(f"{server.url}/customers/c2")
    restricted = page.locator(".restricted").inner_text()
    assert "VVIP customer: only its named need-to-know list" in restricted
    assert page.get_by_role("link", name="Open deep").count() == 0
    shot(page, "06-rep-vvip-restricted")
    response = page.goto(f"{server.url}/customers/c2/sensitive")
    assert response.status == 403
    assert_no_canary(page)
    # Her own standard customer's deep section opens, and says the read is audited.
    page.goto(f"{server.url}/customers/c1")
    page.get_by_role("link", name="Open deep and extended").click()
    page.wait_for_load_state()
    assert "recorded in the audit log" in page.content()


def test_a_manager_accepts_a_pool_assignment(page: Any, server: LiveServer) -> None:
    log_in(page, server, "mona")
    assert page.url.endswith("/manager")
    assert page.locator("svg.chart").count() >= 3
    shot(page, "07-manager-report")
    page.get_by_role("link", name="Alerts").click()
    page.wait_for_load_state()
    shot(page, "08-manager-alerts")
    page.get_by_role("link", name="Pool").click()
    page.wait_for_load_state()
    shot(page, "09-manager-pool")
    boxes = page.locator('input[name="accept"]')
    assert boxes.count() >= 1
    customer = boxes.first.get_attribute("value")
    rep = page.get_by_label(f"rep for {customer}").input_value()
    boxes.first.check()
    page.get_by_role("button", name="Accept ticked assignments").click()
    page.wait_for_load_state()
    assert "Assigned 1 customer(s)" in page.get_by_role("status").inner_text()
    assert page.locator(f'input[name="accept"][value="{customer}"]').count() == 0
    page.goto(f"{server.url}/customers/{customer}")
    assert f"{rep}" in page.locator("dl.facts").inner_text()
    shot(page, "10-manager-after-assignment")


def test_analyst_and_admin_pages(page: Any, server: LiveServer) -> None:
    log_in(page, server, "ann")
    assert page.url.endswith("/analyst")
    assert "Serving" in page.content()
    shot(page, "11-analyst")
    page.goto(f"{server.url}/customers/c1")
    assert "Not allowed" in page.locator("h1").inner_text()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    log_in(page, server, "adam")
    assert page.url.endswith("/admin")
    assert "chain intact" in page.content()
    shot(page, "12-admin")
    assert_no_canary(page)


def test_the_strict_content_security_policy_breaks_no_page(page: Any, server: LiveServer) -> None:
    """Issue 13: the CSP forbids inline code; a real browser reports every violation on
    its console, and none may appear on the pages each role uses."""
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    for user, paths in (
        ("alice", ("/calls", "/customers/c1", "/pool", "/search?q=ltd")),
        ("mona", ("/manager", "/alerts", "/pool")),
        ("adam", ("/admin",)),
    ):
        page.context.clear_cookies()
        log_in(page, server, user)
        for path in paths:
            response = page.goto(f"{server.url}{path}")
            assert response.status == 200, path
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert response.headers["cache-control"] == "no-store"
    assert violations == []
