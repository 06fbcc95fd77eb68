"""Fixtures of the reliability suite: the size profile, the simulated logs, the table.

The table is printed at the end of the session (and written to
`.closecast/reliability/table.md` and `table.jsonl`, or `$CLOSECAST_RELIABILITY_REPORT`).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.reliability import profile as profiles
from tests.reliability.logs import Log, simulated
from tests.reliability.table import Table, render, report_dir

_TABLE = pytest.StashKey[Table]()
_STARTED = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability: the fault, load and bad-input suite (tests/reliability)"
    )


@pytest.fixture(scope="session")
def profile() -> profiles.Profile:
    return profiles.current()


@pytest.fixture(scope="session")
def table(request: pytest.FixtureRequest, profile: profiles.Profile) -> Table:
    config = request.config
    if _TABLE not in config.stash:
        config.stash[_TABLE] = Table(report_dir(), profile.name)
        config.stash[_STARTED] = time.monotonic()
    return config.stash[_TABLE]


@pytest.fixture(scope="session")
def main_log(tmp_path_factory: pytest.TempPathFactory, profile: profiles.Profile) -> Log:
    """The main simulated log (short ~19,000 events, full ~200,000) and its replay."""
    log = simulated(profile.log, tmp_path_factory.mktemp("reliability-main"))
    assert len(log) >= profile.min_events, f"the {profile.name} log has only {len(log):,} events"
    return log


@pytest.fixture(scope="session")
def small_log(tmp_path_factory: pytest.TempPathFactory, profile: profiles.Profile) -> Log:
    return simulated(profile.small_log, tmp_path_factory.mktemp("reliability-small"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    if _TABLE not in config.stash:
        return
    table = config.stash[_TABLE]
    if not table.rows:
        return
    path = table.write_all()
    minutes = (time.monotonic() - config.stash[_STARTED]) / 60
    terminalreporter.section(f"reliability ({table.profile} form, {minutes:.1f} min)")
    terminalreporter.write_line(render(table.rows))
    terminalreporter.write_line(f"\n(written to {path})")


def scenario_dir(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir(parents=True, exist_ok=True)
    return path
