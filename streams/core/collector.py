"""The garbage collector paused while states are folded, by every engine and by whatever
folds many states at once (books, reasons, data sets)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while folding.

    States hold no reference cycles (reference counting frees everything), but each
    allocation counts towards the collector's thresholds, and every full pass walks
    all live states: at a million customers that is a third of the replay's time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
