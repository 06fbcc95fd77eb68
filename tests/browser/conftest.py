"""Browser tests: the real pages in headless Chromium from Debian's `chromium` package.

Playwright drives it (`executable_path`, never a downloaded browser build). A missing
Chromium FAILS these tests: `make browser` installs it (`apt-get install chromium`).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_TESTS.parent))  # the repo root
sys.path.insert(0, str(_TESTS))  # webworld

import pytest  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
# The network is closed and the profile is fresh: nothing may phone home or wait for it.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`make browser`)", pytrace=False
        )
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="closecast-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            # The fresh profile is passed as --user-data-dir by Playwright itself.
            args=CHROMIUM_ARGS,
            viewport={"width": 412, "height": 915},  # a phone: reps use the list between visits
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    chromium.clear_cookies()
    tab = chromium.new_page()
    yield tab
    tab.close()
