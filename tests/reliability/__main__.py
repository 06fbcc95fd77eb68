"""Run the reliability suite and print its table: `python -m tests.reliability [--short]`.

The full form by default (what `make reliability` runs); `--short` for the form CI runs
with every test. Extra arguments go to pytest (e.g. `-k crash`). The exit status is
pytest's; the table is printed even when a scenario fails (its row shows why).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.reliability.profile import ENV
from tests.reliability.table import read_rows, render, report_dir

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    form = "full"
    if "--short" in argv:
        argv = [a for a in argv if a != "--short"]
        form = "short"
    env = {**os.environ, ENV: os.environ.get(ENV) or form}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "reliability",
        "-p",
        "no:cacheprovider",
        str(REPO / "tests" / "reliability"),
        *argv,
    ]
    status = subprocess.run(command, cwd=REPO, env=env, check=False).returncode
    rows_file = report_dir() / "table.jsonl"
    if rows_file.is_file():
        rows = read_rows(rows_file)
        print(f"\nreliability table ({env[ENV]} form, {len(rows)} rows):\n")
        print(render(rows))
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
