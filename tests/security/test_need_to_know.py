"""Attacks 2 and 4: need-to-know bypassed by a tier change; pool customers' sensitive
sections open to every manager; unlimited claims."""

from __future__ import annotations

import time
from typing import Any

from tests.security.conftest import Start
from tests.support.webworld import CANARY_POOL, CANARY_VVIP, World, login, request

TO_STANDARD = {"type": "importance_set", "payload": {"tier": "standard"}}


def _audit(server: Any) -> list[dict[str, Any]]:
    reply = request(server, "GET", "/api/audit?limit=10000", login(server, "adam"))
    assert reply.status == 200
    assert reply.json()["chain_intact"] is True
    records: list[dict[str, Any]] = reply.json()["records"]
    return records[::-1]  # oldest first


def _list_alice_only(world: World) -> None:
    # c2 (alice's VVIP customer): alice on its list, her manager mona not.
    world.access_file.write_text('[need_to_know]\nc2 = ["alice"]\n', encoding="utf-8")


def test_a_manager_off_the_list_cannot_set_the_tier_to_read_it(
    fresh_world: World, start: Start
) -> None:
    _list_alice_only(fresh_world)
    server = start()
    mona = login(server, "mona")
    assert request(server, "GET", "/api/customers/c2/sensitive", mona).status == 403
    reply = request(server, "POST", "/api/customers/c2/events", mona, body=TO_STANDARD)
    assert reply.status == 403, reply.text
    assert "need-to-know" in reply.json()["error"]
    assert request(server, "GET", "/api/customers/c2", mona).json()["tier"] == "vvip"
    # An unrestricted customer's importance is still the team manager's to set.
    key = {"type": "importance_set", "payload": {"tier": "key"}}
    assert request(server, "POST", "/api/customers/c3/events", mona, body=key).status == 201
    outcomes = [
        (r["customer_id"], r["outcome"]) for r in _audit(server) if r["action"] == "set_importance"
    ]
    assert outcomes == [("c2", "refused"), ("c3", "allowed")]


def test_the_restriction_sticks_however_the_tier_changes(fresh_world: World, start: Start) -> None:
    _list_alice_only(fresh_world)
    # mona is a named importance editor here: she may change the tier, and still the
    # sections stay the list's.
    server = start(CLOSECAST_IMPORTANCE_EDITORS="mona")
    mona = login(server, "mona")
    reply = request(server, "POST", "/api/customers/c2/events", mona, body=TO_STANDARD)
    assert reply.status == 201, reply.text
    assert request(server, "GET", "/api/customers/c2", mona).json()["tier"] == "standard"
    refused = request(server, "GET", "/api/customers/c2/sensitive", mona)
    assert refused.status == 403 and CANARY_VVIP not in refused.text
    alice = login(server, "alice")
    allowed = request(server, "GET", "/api/customers/c2/sensitive", alice)
    assert allowed.status == 200 and CANARY_VVIP in allowed.text
    # And after a restart (the tier history is folded from the log again).
    server.stop()
    again = start(CLOSECAST_IMPORTANCE_EDITORS="mona")
    assert request(again, "GET", "/api/customers/c2/sensitive", login(again, "mona")).status == 403
    access = request(again, "GET", "/api/access", login(again, "adam")).json()
    assert "c2" in access["restricted_customers"]
    assert access["importance_editors"] == ["mona"]


def test_need_to_know_changes_are_audited_and_shown_to_the_admin(
    fresh_world: World, start: Start
) -> None:
    _list_alice_only(fresh_world)
    server = start()
    mona = login(server, "mona")
    assert request(server, "GET", "/api/customers/c2/sensitive", mona).status == 403
    time.sleep(0.05)
    fresh_world.access_file.write_text('[need_to_know]\nc2 = ["alice", "mona"]\n', "utf-8")
    deadline = time.monotonic() + 10
    while request(server, "GET", "/api/customers/c2/sensitive", mona).status != 200:
        assert time.monotonic() < deadline, "the list change was never picked up"
        time.sleep(0.5)
    changes = [r for r in _audit(server) if r["action"] == "need_to_know_changed"]
    assert [(r["customer_id"], r["details"]) for r in changes] == [
        ("c2", {"added": ["mona"], "removed": []})
    ]
    page = request(server, "GET", "/admin", login(server, "adam"))
    assert "need-to-know list changed: +mona" in page.text


def test_pool_sections_are_for_their_circle_and_named_readers_only(start: Start) -> None:
    server = start(CLOSECAST_POOL_READERS="sam")
    for user in ("alice", "bob", "mona"):  # bob owned c5 before it went to the pool
        reply = request(server, "GET", "/api/customers/c5/sensitive", login(server, user))
        assert reply.status == 403, (user, reply.text)
        assert CANARY_POOL not in reply.text
    reply = request(server, "GET", "/api/customers/c5/sensitive", login(server, "sam"))
    assert reply.status == 200 and CANARY_POOL in reply.text


def test_claims_are_limited_per_rep_per_day_across_restarts(start: Start) -> None:
    server = start(CLOSECAST_CLAIMS_PER_DAY="2")
    alice = login(server, "alice")
    assert request(server, "POST", "/api/customers/c90/claim", alice).status == 201
    assert request(server, "POST", "/api/customers/c91/claim", alice).status == 201
    refused = request(server, "POST", "/api/customers/c92/claim", alice)
    assert refused.status == 429 and "CLOSECAST_CLAIMS_PER_DAY" in refused.json()["error"]
    bob = login(server, "bob")
    assert request(server, "POST", "/api/customers/c92/claim", bob).status == 201  # per rep
    claims = [
        (r["user"], r["customer_id"], r["outcome"])
        for r in _audit(server)
        if r["action"] == "claim"
    ]
    assert claims == [
        ("alice", "c90", "allowed"),
        ("alice", "c91", "allowed"),
        ("alice", "c92", "refused"),
        ("bob", "c92", "allowed"),
    ]
    server.stop()
    again = start(CLOSECAST_CLAIMS_PER_DAY="2")
    reply = request(again, "POST", "/api/customers/c93/claim", login(again, "alice"))
    assert reply.status == 429  # counted from the log, not from memory


def test_claims_can_require_a_managers_approval(start: Start) -> None:
    server = start(CLOSECAST_CLAIM_APPROVAL="1")
    alice, mona = login(server, "alice"), login(server, "mona")
    reply = request(server, "POST", "/api/customers/c90/claim", alice)
    assert reply.status == 202 and reply.json()["pending"] is True
    view = request(server, "GET", "/api/customers/c90", alice).json()
    assert view["in_pool"] is True  # nothing assigned yet
    pool = request(server, "GET", "/api/pool", mona).json()
    assert pool["claim_requests"] == [{"customer_id": "c90", "rep_id": "r1", "by": "alice"}]
    assert "claim_requests" not in request(server, "GET", "/api/pool", alice).json()
    sam = request(server, "GET", "/api/pool", login(server, "sam")).json()
    assert sam["claim_requests"] == []  # another team's rep asked
    # A restart keeps the request (rebuilt from the audit log).
    server.stop()
    server = start(CLOSECAST_CLAIM_APPROVAL="1")
    mona = login(server, "mona")
    pool = request(server, "GET", "/api/pool", mona).json()
    assert [r["customer_id"] for r in pool["claim_requests"]] == ["c90"]
    accept = {"assignments": [{"customer_id": "c90", "rep_id": "r1"}]}
    assert request(server, "POST", "/api/pool/assignments", mona, body=accept).status == 201
    alice = login(server, "alice")
    assert request(server, "GET", "/api/customers/c90", alice).json()["owner"] == "r1"
    assert request(server, "GET", "/api/pool", mona).json()["claim_requests"] == []
