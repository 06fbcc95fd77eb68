"""The model registry (placeholder until the trained-model issue lands): no model yet, so
every score comes from the heuristic."""

from __future__ import annotations

from pathlib import Path

from features.policy import DEFAULT, Policy
from models.scoring import Scorer


def load_scorer(model_dir: Path | None, policy: Policy = DEFAULT) -> Scorer:
    return Scorer(None, policy, fallback_note="no trained model registered: using the heuristic")
