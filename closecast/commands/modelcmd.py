"""`closecast models list|show|promote|rollback`: the registered models and which scores.

Named `modelcmd` so it does not shadow the `models` package."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from closecast.commands.common import DEFAULT_MODEL_DIR, add_log_args, as_of_arg
from closecast.errors import UserError
from models.registry import Registry, RegistryError


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list, show, promote or roll back trained models")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="every model, newest last")
    show = actions.add_parser("show", parents=[common], help="a model's metadata")
    show.add_argument("version")
    promote = actions.add_parser(
        "promote", parents=[common], help="make a model current (bypasses the gate)"
    )
    promote.add_argument("version")
    actions.add_parser("rollback", parents=[common], help="make the previous current model current")
    watch = actions.add_parser(
        "watch",
        parents=[common],
        help="check the current model on labels completed since its training; recalibrate "
        "or hand over to the fallback when it decayed",
    )
    add_log_args(watch)
    p.set_defaults(run=run)


def _status(version: str, current: str | None, history: list[str]) -> str:
    if version == current:
        return "current"
    if version in history:
        return "previous"
    return "candidate"


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


def run(args: argparse.Namespace) -> int:
    registry = Registry(args.model_dir)
    try:
        if args.action == "list":
            return _list(registry)
        if args.action == "show":
            return _show(registry, args.version)
        if args.action == "promote":
            return _promote(registry, args.version)
        if args.action == "watch":
            return _watch(args, registry)
        return _rollback(registry)
    except RegistryError as exc:
        raise UserError(str(exc)) from None


def _list(registry: Registry) -> int:
    versions = registry.versions()
    if not versions:
        print(f"no models in {registry.root}")
        return 0
    current, history = registry.current(), registry.history()
    print(f"{'version':42} {'status':9} {'rows':>8} {'roc_auc':>7} {'cap@10':>7} {'ece':>7}")
    for version in versions:
        try:
            meta = registry.metadata(version)
        except RegistryError as exc:
            print(f"{version:42} unreadable: {exc}")
            continue
        m = meta.get("metrics", {})
        rows = meta.get("training", {}).get("rows", "-")
        print(
            f"{version:42} {_status(version, current, history):9} {rows:>8} "
            f"{_fmt(m.get('roc_auc')):>7} {_fmt(m.get('capture_10')):>7} {_fmt(m.get('ece')):>7}"
        )
    return 0


def _show(registry: Registry, version: str) -> int:
    from training.drift import history

    meta = registry.metadata(version)
    meta["status"] = _status(version, registry.current(), registry.history())
    meta["drift_history"] = [
        r for r in history(registry) if version in (r.get("version"), r.get("new_version"))
    ]
    try:
        registry.load(version)
        meta["usable"] = True
    except RegistryError as exc:
        meta["usable"] = f"no: {exc}"
    print(json.dumps(meta, indent=2))
    return 0


def _promote(registry: Registry, version: str) -> int:
    registry.load(version)  # refuse a model scoring would fall back from anyway
    decision = registry.metadata(version).get("decision") or {}
    registry.promote(version)
    print(f"{version} is current")
    if decision and not decision.get("promoted"):
        for reason in decision.get("reasons", []):
            print(f"  note: the gate had refused it: {reason}")
    return 0


def _rollback(registry: Registry) -> int:
    now = registry.rollback()
    if now is None:
        print("no model is current now: scores come from the heuristic")
    else:
        print(f"{now} is current again")
    return 0


def _watch(args: argparse.Namespace, registry: Registry) -> int:
    from features.policy import Policy
    from training.drift import watch_log

    if registry.current() is None:
        print("no model is current: nothing to watch")
        return 0
    record = watch_log(args.files, registry, as_of_arg(args.as_of), Policy.from_env())
    if record is None:
        print(f"{registry.current()}: no labels completed since it was last checked")
        return 0
    print(
        f"{record.version}: {record.rows:,} rows labelled after training ({record.first_as_of} "
        f"to {record.last_as_of}): ROC AUC {record.roc_auc:.4f} (backtest "
        f"{record.backtest_roc_auc:.4f}), ECE {record.ece:.4f} (backtest {record.backtest_ece:.4f})"
    )
    print(f"action: {record.action}: {record.note}")
    return 0
