"""A fresh team and server per test where a test changes limits, lists or the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.webworld import LiveServer, World, make_world

Start = Callable[..., LiveServer]


@pytest.fixture()
def fresh_world(tmp_path: Path) -> World:
    return make_world(tmp_path)


@pytest.fixture()
def start(fresh_world: World) -> Iterator[Start]:
    """Start the real app on loopback for `fresh_world`, with extra settings; every
    server started is stopped at the end (a restart is a second call)."""
    started: list[LiveServer] = []

    def go(clock: str = "now", **env: str) -> LiveServer:
        fresh_world.env.update(env)
        live = LiveServer(fresh_world, clock=clock).start()
        started.append(live)
        return live

    yield go
    for live in started:
        if live._thread.is_alive():
            live.stop()
