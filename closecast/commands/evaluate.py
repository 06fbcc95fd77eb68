"""`closecast evaluate`: a registered model (the current one unless told) and the heuristic
on the holdout of a log, as an HTML report with the metrics table and plots."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from closecast.commands.common import DEFAULT_MODEL_DIR, add_log_args
from closecast.errors import UserError


def register(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="report a model vs the heuristic on a log's holdout")
    add_log_args(p)
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    p.add_argument("--version", default=None, help="model version (default: the current one)")
    p.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file to write")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from closecast.commands.train import dataset_from_args
    from features.policy import Policy
    from models.registry import Registry, RegistryError
    from training.dataset import DatasetConfig
    from training.report import evaluate_version, metrics_frame, render_html

    policy = Policy.from_env()
    registry = Registry(args.model_dir)
    version = args.version or registry.current()
    if version is None:
        raise UserError(f"no current model in {args.model_dir}: train one or pass --version")
    try:
        meta = registry.metadata(version)
    except RegistryError as exc:
        raise UserError(str(exc)) from None
    training = meta.get("training") or {}
    # The model's own data-set settings, so the snapshots match what it was trained on.
    config = DatasetConfig(
        horizon_days=int(training.get("horizon_days", policy.horizon_days)),
        cadence_days=training.get("cadence_days"),
        warmup_days=training.get("warmup_days"),
        max_rows_per_as_of=training.get("max_rows_per_as_of", DatasetConfig().max_rows_per_as_of),
        statuses=tuple(training.get("statuses", DatasetConfig().statuses)),
    )
    dataset = dataset_from_args(args, policy, config)
    try:
        evaluation = evaluate_version(registry, version, dataset, policy)
    except (RegistryError, ValueError) as exc:
        raise UserError(f"model {version}: {exc}") from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_html(evaluation), encoding="utf-8")
    table = metrics_frame(evaluation.scored)
    columns = ["scorer", "rows", "positives", "roc_auc", "pr_auc", "brier", "ece", "capture_10"]
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for note in evaluation.notes:
        print(f"note: {note}")
    print(f"report -> {args.out}")
    return 0
