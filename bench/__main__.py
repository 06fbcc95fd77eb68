"""Run the benchmarks: `python -m bench [NAME...]` (NAME: replay, models, planning, ...).

Every benchmark module `bench/bench_<name>.py` has `run() -> list[dict]`; each record is
printed as one JSON line with name, value, unit and the baseline measured in the same run.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import orjson


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )
    wanted = argv or names
    unknown = set(wanted) - set(names)
    if unknown:
        print(f"unknown benchmarks: {', '.join(sorted(unknown))}; known: {names}", file=sys.stderr)
        return 2
    for name in wanted:
        module = importlib.import_module(f"bench.bench_{name}")
        for record in module.run():
            if record.get("baseline_value"):
                record["ratio_to_baseline"] = round(record["value"] / record["baseline_value"], 3)
            print(orjson.dumps(record).decode(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
