"""The command line's import graph: building the parser (what `closecast --help` and every
command do first) imports none of the heavy libraries; each command imports them when it
runs. A check of which modules are loaded, not a timing (timings are for `make bench`)."""

from __future__ import annotations

import json
import subprocess
import sys

from closecast.commands.train import DEFAULT_FOLDS, DEFAULT_MAX_ROWS_PER_AS_OF

HEAVY = ("pandas", "sklearn", "faust", "aiohttp", "aiokafka", "mode", "matplotlib", "openpyxl")


def _loaded_after(code: str) -> list[str]:
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded: list[str] = json.loads(out.splitlines()[-1])
    return loaded


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded_after("import closecast.cli") == []


def test_building_every_commands_parser_loads_no_heavy_library() -> None:
    assert _loaded_after("import closecast.cli; closecast.cli.build_parser()") == []


def test_a_command_that_needs_pandas_still_imports_it_when_run() -> None:
    # The probe itself: a heavy import inside a command is seen by the check above.
    loaded = _loaded_after("import closecast.commands.books")
    assert "pandas" in loaded


def test_train_help_names_the_defaults_the_command_uses() -> None:
    from training.dataset import DatasetConfig
    from training.retrain import TrainingConfig

    assert TrainingConfig().folds == DEFAULT_FOLDS
    assert DatasetConfig().cadence_days is None  # adapts to the log: the help says so
    assert DatasetConfig().max_rows_per_as_of == DEFAULT_MAX_ROWS_PER_AS_OF
