"""Keeping a long-running scorer on what the model registry holds now.

The stream worker runs for weeks while analysts promote, roll back and retrain; a file
may also be replaced, damaged or deleted under it. `ModelWatch` notices any change to
the current version or its files (a few `stat` calls, cheap enough to poll every few
seconds) and loads again with `load_scorer`, which falls back to the heuristic, with its
one-line note, when the current model cannot be trusted. So the worker scores with the
registry's current model when it is usable and with the heuristic when it is not, and
comes back to the model on its own once a good one is current again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from features.policy import DEFAULT, Policy
from models.registry import (
    FALLBACK_FILE,
    META_FILE,
    MODEL_FILE,
    Registry,
    RegistryError,
    load_scorer,
)
from models.scoring import Scorer

log = logging.getLogger(__name__)

FileStamp = tuple[int, int, int] | None  # inode, size, mtime (ns); None when missing
Fingerprint = tuple[str | None, FileStamp, FileStamp, FileStamp]


class ModelWatch:
    def __init__(self, model_dir: Path | None, policy: Policy = DEFAULT) -> None:
        self.model_dir = model_dir
        self.policy = policy
        self.seen = self.fingerprint()
        self.scorer = load_scorer(model_dir, policy)

    def fingerprint(self) -> Fingerprint | None:
        """What identifies the current model on disk (None without a model directory)."""
        if self.model_dir is None:
            return None
        registry = Registry(self.model_dir)
        version = registry.current()
        fallback = _stamp(registry.root / FALLBACK_FILE)
        if version is None:
            return (None, None, None, fallback)
        folder = registry.versions_dir / version
        return (version, _stamp(folder / MODEL_FILE), _stamp(folder / META_FILE), fallback)

    def stale(self) -> bool:
        """Whether the registry changed since the scorer was last loaded."""
        return self.fingerprint() != self.seen

    def load(self) -> tuple[Scorer, Fingerprint | None]:
        """A scorer for the registry as it is now, and what it was loaded from (slow: it
        unpickles; run it off the event loop). Files changed during the load show up as
        stale at the next look."""
        fingerprint = self.fingerprint()
        return load_scorer(self.model_dir, self.policy), fingerprint

    def adopt(self, fresh: Scorer, fingerprint: Fingerprint | None) -> bool:
        """Make the watched scorer score like `fresh` (in place: every holder of the
        scorer sees it). Returns whether what scores changed (model, or its absence)."""
        self.seen = fingerprint
        before = self.scorer.name
        self.scorer.model = fresh.model
        self.scorer.heuristic = fresh.heuristic  # its calibration may have changed
        self.scorer.fallback_note = fresh.fallback_note
        if self.scorer.name != before:
            log.warning("now scoring with %s (was %s)%s", self.scorer.name, before, self._why())
            return True
        return False

    def _why(self) -> str:
        """What the registry says about the change (a drift watch's recalibration, or its
        hand-over to the fallback), for the worker's log."""
        if self.model_dir is None:
            return ""
        registry = Registry(self.model_dir)
        version = registry.current()
        if version is not None:
            try:
                meta = registry.metadata(version)
            except RegistryError:
                return ""
            return f": {meta['note']}" if meta.get("recalibrated_from") else ""
        last = registry.drift_history()[-1:] or [{}]
        return f": {last[0]['note']}" if last[0].get("action") == "fallback" else ""


def _stamp(path: Path) -> FileStamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
