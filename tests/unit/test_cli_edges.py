"""The command line's edges: each mistake answers with a clear error and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest
from wcwidth import wcswidth

from closecast.cli import main
from closecast.commands.calllist_view import pad
from streams.core.log import append_events
from tests.support.planning import DAY, T0, customer_events, ev, iso, joined


def _log(path: Path) -> Path:
    events = [joined("r1"), *customer_events("c1", "r1", n=3, last_days_ago=25)]
    events.append(ev("rep_joined", 10 * DAY, rep="late", role="rep", team="east", name="晚到"))
    append_events(path, events)
    return path


def _fails(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    assert main([str(a) for a in args]) == 2
    return capsys.readouterr().err


def test_an_empty_log_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    err = _fails(capsys, "calllist", log, "--as-of", iso(T0))
    assert "the log is empty" in err and "wrote 0 lines" not in err


def test_forecast_on_an_empty_log_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    err = _fails(capsys, "forecast", log, "--as-of", iso(T0))
    assert "the log is empty" in err and "expected revenue" not in err


def test_an_all_garbage_log_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "junk.jsonl"
    log.write_text("not json\n{}\n")
    err = _fails(capsys, "calllist", log, "--as-of", iso(T0))
    assert "no valid event in 2 lines" in err


def test_a_folder_given_as_a_log_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _fails(capsys, "calllist", tmp_path, "--as-of", iso(T0))
    assert "is a folder, not a log file" in err


def test_as_of_before_a_reps_first_event_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(tmp_path / "log.jsonl")
    err = _fails(capsys, "calllist", log, "--as-of", iso(T0), "--rep", "late")
    assert "'late' has no event up to --as-of (its first is on" in err
    err = _fails(capsys, "calllist", log, "--as-of", iso(T0), "--rep", "nobody")
    assert "no rep 'nobody' in the log" in err


def test_out_into_a_missing_folder_is_an_error_before_any_model_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    log = _log(tmp_path / "log.jsonl")
    models = ["--model-dir", str(tmp_path / "no-models")]
    out = tmp_path / "missing" / "calls.xlsx"
    args: tuple[str | Path, ...] = ("calllist", log, "--as-of", iso(T0), *models)
    err = _fails(capsys, *args, "--format", "xlsx", "--out", out)
    assert f"the folder {out.parent} does not exist" in err
    assert not out.parent.exists()
    err = _fails(capsys, "calllist", log, "--as-of", "yesterday-ish", *models)
    assert "--as-of" in err
    # The argument errors came alone; a run that gets as far warns of the missing model.
    assert not [r for r in caplog.records if "no trained model" in r.getMessage()]
    assert main([str(a) for a in args]) == 0
    assert [r for r in caplog.records if "no trained model" in r.getMessage()]


def test_table_columns_align_with_chinese_names() -> None:
    names = ["宏達印刷", "ABC Print", "王小明的公司有限"]
    padded = [pad(n, 20) + "|" for n in names]
    assert {wcswidth(p) for p in padded} == {21}


def test_manager_tables_align_with_chinese_names() -> None:
    import pandas as pd

    from closecast.commands.manager import text_table

    frame = pd.DataFrame({"name": ["王小明", "Amy", "陳志強先生"], "leads": [12, 3, 100]})
    lines = text_table(frame, 10).splitlines()
    assert len({wcswidth(line) for line in lines}) == 1, lines


def test_score_pool_and_report_refuse_an_out_in_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(tmp_path / "log.jsonl")
    for command, name in (("score", "s.csv"), ("pool", "p.csv"), ("report", "r.html")):
        out = tmp_path / "nowhere" / name
        err = _fails(capsys, command, log, "--as-of", iso(T0), "--out", out)
        assert "does not exist" in err, command
    assert not (tmp_path / "nowhere").exists()
