"""Many worlds, one table (issue 12, item 8): the served forecast against plain baselines.

`python -m bench forecast`. A separate benchmark beside `bench models` (which measures
training and scoring speed on our own simulator): this one measures forecast quality on
logs unlike that simulator, `bench.worlds` (seven generated worlds and the real CDNOW
purchase history), and takes about as long as the product's training on them.

Per world, with the training cut T = the log's last day minus 151 days and eval as-of
times E = T+1d, T+30d, T+60d (each with a complete 90-day label):

- **product**: run exactly as a user would, in a subprocess through the CLI:
  `closecast train LOG --as-of T --model-dir D`, then per E `closecast score LOG --as-of E
  --model-dir D --out scores.csv`; the value is the CSV's `expected_revenue` column when
  there is one, else `predicted_value`. When `closecast forecast` exists, `closecast
  forecast LOG --as-of E --model-dir D --json` gives the team's 80% interval; otherwise
  the interval coverage is n/a.
- **reference**: scikit-learn's HistGradientBoostingClassifier on simple counts from the
  raw events, trained on snapshots at T-90d and up to three earlier (every 30 days), and a
  Poisson HistGradientBoostingRegressor of 90-day revenue on the same counts.
- **btyd**: PyMC-Marketing's BG/NBD fitted (MAP) on orders up to T; P(an order in 90
  days), and expected revenue with a Gamma-Gamma spend model.

All three score the same customers: every customer in the product's scores at each E.
Metrics pooled over the E's: ROC AUC, ECE and capture@10% from `training.evaluate` (so the
numbers match the product's own), revenue ratio (predicted team total / realised revenue
in the horizon), the interval's coverage of the realised team total, and the share of
customers the product served with its model (`source == "model"`). The issue's "Done
when" checks are printed per world as pass/fail; a benchmark reports, it never asserts.

`CLOSECAST_BENCH_WORLDS=growing,noisy` runs only those worlds.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.forecast_reference import DAY, Btyd, Reference, counts, outcome, read_log
from bench.worlds import WORLDS, World, write
from training.evaluate import metrics

OUT = Path(__file__).parent / "out" / "worlds"
HORIZON = 90
EVAL_OFFSETS = (1, 30, 60)
SCORERS = ("product", "reference", "btyd")


def _stamp(t: pd.Timestamp) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _closecast(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "closecast", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


@dataclass
class Scored:
    p: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)

    def add(self, p: np.ndarray, value: np.ndarray) -> None:
        self.p.append(np.asarray(p, dtype=float))
        self.value.append(np.asarray(value, dtype=float))


@dataclass
class Run:
    world: World
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    y: list[np.ndarray] = field(default_factory=list)
    revenue: list[np.ndarray] = field(default_factory=list)
    as_of: list[np.ndarray] = field(default_factory=list)
    scored: dict[str, Scored] = field(default_factory=lambda: {s: Scored() for s in SCORERS})
    model_share: list[float] = field(default_factory=list)
    covered: list[bool] = field(default_factory=list)
    rows: dict[str, dict[str, float | None]] = field(default_factory=dict)


def _forecast_available() -> bool:
    return _closecast("forecast", "--help").returncode == 0


def _interval(log: Path, e: pd.Timestamp, models: Path) -> tuple[float, float, float] | None:
    done = _closecast("forecast", log, "--as-of", _stamp(e), "--model-dir", models, "--json")
    if done.returncode != 0:
        return None
    team = json.loads(done.stdout.strip().splitlines()[-1])["team"]
    return float(team["expected"]), float(team["low"]), float(team["high"])


def _run_world(world: World, forecast: bool) -> Run:
    run = Run(world)
    started = time.perf_counter()
    log = write(world, OUT / f"{world.name}.jsonl")
    # The product appends rejected lines beside the log: start each run without old ones.
    log.with_name(log.name + ".rejected.jsonl").unlink(missing_ok=True)
    events = read_log(log)
    run.seconds["generate"] = time.perf_counter() - started
    end = events["ts"].max().floor("D")
    cut = end - (HORIZON + EVAL_OFFSETS[-1] + 1) * DAY
    evals = [cut + k * DAY for k in EVAL_OFFSETS]
    models = OUT / f"{world.name}-models"
    shutil.rmtree(models, ignore_errors=True)

    clock = time.perf_counter()
    trained = _closecast("train", log, "--as-of", _stamp(cut), "--model-dir", models)
    run.seconds["product_train"] = time.perf_counter() - clock
    if trained.returncode != 0:
        run.notes.append(f"train exit {trained.returncode}: {_tail(trained.stderr)}")
    else:
        decision = [
            x.strip()
            for x in trained.stdout.splitlines()
            if x.startswith(("promoted", "kept", "  - "))
        ]
        run.notes.append(" ".join(decision) or _tail(trained.stdout, 1))

    clock = time.perf_counter()
    reference = Reference.fit(events, cut)
    run.seconds["reference_fit"] = time.perf_counter() - clock
    clock = time.perf_counter()
    btyd: Btyd | None = None
    try:
        btyd = Btyd.fit(events, cut)
    except Exception as exc:  # a baseline that cannot fit is reported, not fatal
        run.notes.append(f"btyd not fitted: {type(exc).__name__}: {exc}")
    run.seconds["btyd_fit"] = time.perf_counter() - clock

    for e in evals:
        clock = time.perf_counter()
        csv = OUT / f"{world.name}-scores-{e:%Y%m%d}.csv"
        done = _closecast("score", log, "--as-of", _stamp(e), "--model-dir", models, "--out", csv)
        run.seconds["product_score"] = run.seconds.get("product_score", 0.0) + (
            time.perf_counter() - clock
        )
        if done.returncode != 0:
            run.notes.append(f"score exit {done.returncode}: {_tail(done.stderr)}")
            continue
        frame = pd.read_csv(csv, dtype={"customer_id": str})
        ids = pd.Index(frame["customer_id"])
        truth = outcome(events, ids, e, HORIZON)
        run.y.append(truth["y"].to_numpy())
        run.revenue.append(truth["revenue"].to_numpy())
        run.as_of.append(np.full(len(ids), e.value))
        value_column = "expected_revenue" if "expected_revenue" in frame else "predicted_value"
        run.scored["product"].add(
            frame["p_close"].to_numpy(), frame[value_column].fillna(0.0).to_numpy()
        )
        run.model_share.append(float((frame["source"] == "model").mean()))
        p, value = reference.predict(counts(events, ids, e))
        run.scored["reference"].add(p, value)
        if btyd is not None:
            run.scored["btyd"].add(*btyd.predict(events, ids, e, HORIZON))
        if forecast:
            band = _interval(log, e, models)
            if band is not None:
                run.covered.append(band[1] <= float(truth["revenue"].sum()) <= band[2])
        csv.unlink()
    run.seconds["total"] = time.perf_counter() - started
    _summarise(run)
    return run


def _summarise(run: Run) -> None:
    if not run.y:
        return
    y = np.concatenate(run.y)
    revenue = float(np.concatenate(run.revenue).sum())
    as_of = np.concatenate(run.as_of)
    for scorer, scored in run.scored.items():
        if len(scored.p) != len(run.y):
            continue
        m = metrics(np.concatenate(scored.p), y, as_of)
        predicted = float(np.concatenate(scored.value).sum())
        run.rows[scorer] = {
            "roc_auc": m.roc_auc,
            "ece": m.ece,
            "capture_10": m.capture_10,
            "revenue_ratio": predicted / revenue if revenue else math.nan,
            "coverage": float(np.mean(run.covered))
            if scorer == "product" and run.covered
            else None,
            "model_share": float(np.mean(run.model_share)) if scorer == "product" else None,
            "rows": m.rows,
            "base_rate": m.base_rate,
            "mean_p": m.mean_p,
        }


def _checks(run: Run) -> dict[str, bool | None]:
    product = run.rows.get("product", {})
    reference = run.rows.get("reference", {})
    btyd = run.rows.get("btyd", {})

    def ge(a: float | None, b: float | None) -> bool | None:
        if a is None or b is None or math.isnan(a) or math.isnan(b):
            return None
        return a >= b

    ratio = product.get("revenue_ratio")
    coverage = product.get("coverage")
    share = product.get("model_share")
    ece = product.get("ece")
    return {
        "auc_ge_reference": ge(product.get("roc_auc"), reference.get("roc_auc")),
        "ece_le_0.03": None if ece is None else ece <= 0.03,
        "revenue_within_10pct": None if ratio is None else abs(ratio - 1.0) <= 0.10,
        "coverage_ge_70pct": None if coverage is None else coverage >= 0.70,
        "auc_ge_btyd": ge(product.get("roc_auc"), btyd.get("roc_auc"))
        if run.world.orders_only
        else None,
        "model_share_ge_99pct": None if share is None else share >= 0.99,
    }


def _cell(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "pass" if value else "FAIL"
    return f"{value:.{digits}f}"


def _tables(runs: list[Run]) -> str:
    head = (
        "| world | scorer | rows | base rate | ROC AUC | ECE | capture@10% | revenue ratio "
        "| coverage | model share |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for run in runs:
        for scorer in SCORERS:
            r = run.rows.get(scorer)
            if r is None:
                lines.append(f"| {run.world.name} | {scorer} | n/a |" + " n/a |" * 7)
                continue
            lines.append(
                f"| {run.world.name} | {scorer} | {r['rows']:,} | {_cell(r['base_rate'])} "
                f"| {_cell(r['roc_auc'])} | {_cell(r['ece'], 4)} | {_cell(r['capture_10'])} "
                f"| {_cell(r['revenue_ratio'])} | {_cell(r['coverage'], 2)} "
                f"| {_cell(r['model_share'], 4)} |"
            )
    names = list(_checks(runs[0])) if runs else []
    lines += ["", "| world | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for run in runs:
        lines.append(
            f"| {run.world.name} | " + " | ".join(_cell(v) for v in _checks(run).values()) + " |"
        )
    lines += [
        "",
        "| world | how it differs | product train s | run s | notes |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.world.name} | {run.world.claim} | {run.seconds.get('product_train', 0):.0f} "
            f"| {run.seconds.get('total', 0):.0f} | {'; '.join(run.notes)} |"
        )
    return "\n".join(lines)


def _records(run: Run) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    reference_auc = run.rows.get("reference", {}).get("roc_auc")
    for scorer, r in run.rows.items():
        record: dict[str, Any] = {
            "name": f"forecast_{run.world.name}_{scorer}",
            "value": _round(r["roc_auc"]),
            "unit": "ROC AUC",
            "world": run.world.name,
            "scorer": scorer,
            **{k: _round(v) for k, v in r.items() if k != "roc_auc"},
            "baseline_name": f"forecast_{run.world.name}_reference",
            "baseline_value": _round(reference_auc),
        }
        if scorer == "product":
            record["checks"] = _checks(run)
            record["seconds"] = {k: round(v, 1) for k, v in run.seconds.items()}
            record["notes"] = run.notes
        records.append(record)
    return records


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


def run() -> list[dict[str, Any]]:
    wanted = [w for w in os.environ.get("CLOSECAST_BENCH_WORLDS", "").split(",") if w]
    unknown = set(wanted) - set(WORLDS)
    if unknown:
        raise SystemExit(
            f"CLOSECAST_BENCH_WORLDS: unknown worlds {sorted(unknown)}; known: {list(WORLDS)}"
        )
    forecast = _forecast_available()
    runs = []
    started = time.perf_counter()
    for name in wanted or list(WORLDS):
        print(f"[forecast] {name}...", file=sys.stderr, flush=True)
        runs.append(_run_world(WORLDS[name], forecast))
        print(
            f"[forecast] {name} done in {runs[-1].seconds['total']:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    print(_tables(runs), flush=True)
    print(
        f"\n(`closecast forecast` {'found' if forecast else 'not found: coverage n/a'}; "
        f"{time.perf_counter() - started:.0f} s in all)\n",
        flush=True,
    )
    return [record for r in runs for record in _records(r)]
