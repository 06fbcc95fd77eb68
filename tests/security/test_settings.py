"""The trust settings: a bad value stops the server before it starts, naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.webworld import SECRET
from web.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CLOSECAST_FUTURE_SKEW_SECONDS", "soon"),
        ("CLOSECAST_FUTURE_SKEW_SECONDS", "-5"),
        ("CLOSECAST_BACKDATE_DAYS", "a week"),
        ("CLOSECAST_MAX_AMOUNT", "0"),
        ("CLOSECAST_CLAIMS_PER_DAY", "many"),
        ("CLOSECAST_LOGIN_PER_ADDRESS", "lots"),
        ("CLOSECAST_LOGIN_PER_USER_ADDRESS", "5 per fortnight"),
    ],
)
def test_a_bad_trust_setting_is_refused_by_name(tmp_path: Path, name: str, value: str) -> None:
    users = tmp_path / "users.toml"
    users.write_text("", encoding="utf-8")
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"CLOSECAST_SECRET": SECRET, name: value}, users_file=users)


def test_the_defaults(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    users.write_text("", encoding="utf-8")
    settings = Settings.from_env({"CLOSECAST_SECRET": SECRET}, users_file=users)
    assert (settings.backdate_days, settings.max_amount, settings.claims_per_day) == (
        7.0,
        5_000_000.0,
        5,
    )
    assert settings.importance_editors == settings.pool_readers == frozenset()
    assert not settings.claim_approval
    assert settings.revoked_sessions.name == "revoked-sessions.jsonl"
