"""Worlds unlike our simulator: named, seeded, deterministic event logs for the benchmarks.

Seven generated worlds (`bench.worlds.process`, a purchase-rate process written apart
from `training/sim`) and one real purchase history (`bench.worlds.cdnow`). Each world is
a `World`: a name, what makes it different, and how to get its events; `write(world,
path)` writes its JSON Lines log (noisy worlds with their noise).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.worlds.cdnow import cdnow_events
from bench.worlds.noise import noisy_lines
from bench.worlds.process import WorldConfig, generate


@dataclass(frozen=True)
class World:
    name: str
    claim: str  # how it differs
    config: WorldConfig | None  # None: the real CDNOW history
    noisy: bool = False
    orders_only: bool = False

    @property
    def seed(self) -> int:
        return self.config.seed if self.config else 0

    def events(self) -> list[dict[str, Any]]:
        return generate(self.config) if self.config else cdnow_events()

    def sized(self, customers: int, seed: int | None = None) -> World:
        """The same world with another starting book (and seed): for fast tests."""
        if self.config is None:
            return self
        config = replace(self.config, customers=customers, seed=self.seed if seed is None else seed)
        return replace(self, config=config)


def _made(config: WorldConfig, claim: str, **kw: Any) -> World:
    return World(config.name, claim, config, **kw)


BASE = WorldConfig(name="base", seed=0, customers=3000, days=730)

WORLDS: dict[str, World] = {
    w.name: w
    for w in (
        _made(
            replace(
                BASE,
                name="growing",
                seed=101,
                customers=2000,
                lead_growth=0.9,
                new_leads=0.2,
                utc_offset_minutes=60,
                id_style="uuid",
            ),
            "leads arrive at a rate growing 2.5x a year; the book doubles",
        ),
        _made(
            replace(BASE, name="drift", seed=202, trend=0.5, utc_offset_minutes=-300),
            "every customer's purchase rate halves from the first day to the last",
        ),
        _made(
            replace(
                BASE,
                name="seasonal",
                seed=303,
                yearly=0.8,
                weekly=0.85,
                utc_offset_minutes=330,
                id_style="mail",
            ),
            "orders peak in autumn at 9x the spring trough; almost none at weekends",
        ),
        _made(
            replace(
                BASE,
                name="rep_churn",
                seed=404,
                rep_churn=0.45,
                reassign_share=0.5,
                utc_offset_minutes=0,
            ),
            "45% of reps leave per year; half their customers stay in the pool",
        ),
        _made(
            replace(
                BASE,
                name="purchase_only",
                seed=505,
                contacts=False,
                quote_share=0.0,
                utc_offset_minutes=-480,
                id_style="plain",
            ),
            "orders and leads only: no contact, quote or portrait events",
            orders_only=True,
        ),
        _made(
            replace(
                BASE,
                name="nine_month",
                seed=606,
                days=270,
                customers=4000,
                start="2025-01-06",
                utc_offset_minutes=540,
            ),
            "the whole log is 270 days",
        ),
        _made(
            replace(BASE, name="noisy", seed=707, utc_offset_minutes=120, id_style="uuid"),
            "1.5% re-sent events, 0.3% malformed lines, shuffled lines and keys",
            noisy=True,
        ),
        World(
            "cdnow",
            "real: CDNOW purchase history, 23,570 customers, 1997-98, orders only",
            None,
            orders_only=True,
        ),
    )
}


def lines(world: World) -> list[str]:
    events = world.events()
    if world.noisy:
        return noisy_lines(events, world.seed + 1)
    return [json.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in events]


def write(world: World, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in lines(world)), encoding="utf-8")
    tmp.rename(path)
    return path
