"""`parse_time`'s caches give exactly what a fresh parse gives, for any text."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core import contract
from streams.core.contract import InvalidEvent, parse_time


def fresh(text: str) -> tuple[str, int] | str:
    """The parse with every cache empty: the result, or the error message."""
    saved = [dict(c) for c in (contract._TIME_CACHE, contract._DAY_CACHE, contract._CLOCK_CACHE)]
    for cache in (contract._TIME_CACHE, contract._DAY_CACHE, contract._CLOCK_CACHE):
        cache.clear()
    try:
        return parse_time(text)
    except InvalidEvent as exc:
        return str(exc)
    finally:
        for cache, old in zip(
            (contract._TIME_CACHE, contract._DAY_CACHE, contract._CLOCK_CACHE), saved, strict=True
        ):
            cache.clear()
            cache.update(old)


def cached(text: str) -> tuple[str, int] | str:
    try:
        return parse_time(text)
    except InvalidEvent as exc:
        return str(exc)


_two = st.integers(0, 99).map(lambda n: f"{n:02d}")
_times = st.builds(
    lambda y, mo, d, h, mi, s, frac, off: f"{y}-{mo}-{d}T{h}:{mi}{s}{frac}{off}",
    st.sampled_from(["1989", "1990", "2025", "2026", "2099", "2100"]),
    st.sampled_from(["01", "02", "12", "13"]),
    st.sampled_from(["01", "28", "29", "30", "31", "32"]),
    _two,
    _two,
    st.sampled_from(["", ":00", ":59", ":60", ":07"]),
    st.sampled_from(["", ".5", ".123456"]),
    st.sampled_from(["Z", "+08:00", "-05:30", "+00:60", "+24:00", "-23:59", "", "z", "+0800"]),
)


@given(st.lists(_times, min_size=1, max_size=30))
def test_a_cached_parse_is_a_fresh_parse(texts: list[str]) -> None:
    # Parsing the texts in turn fills the caches; each answer must be the fresh one.
    for text in texts:
        assert cached(text) == fresh(text), text


@pytest.mark.parametrize(
    ("seen", "text"),
    [
        (["2026-03-04T09:17:00+08:00", "2026-03-05T10:00:00Z"], "2026-03-04T10:00:00+08:00"),
        (["2026-03-04T09:17:00+08:00", "2026-03-05T10:00:00Z"], "2026-03-05T09:17:00Z"),
        (["1990-01-01T05:00:00+01:00", "2026-01-01T00:00:00Z"], "1990-01-01T00:00:00+01:00"),
        (["2099-12-31T00:00:00-05:00", "2026-01-01T23:59:59Z"], "2099-12-31T23:59:59-05:00"),
    ],
)
def test_known_parts_combine_exactly(seen: list[str], text: str) -> None:
    for known in seen:
        parse_time(known)
    assert cached(text) == fresh(text)
