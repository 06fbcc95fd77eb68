"""Importing follow-up spreadsheets: stable ids, nothing added twice, bad rows reported."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import orjson
import pytest
from openpyxl import Workbook

from closecast.cli import main
from ingest.mapping import MappingError, SheetMapping, load_mapping, parse_mapping
from ingest.sheet import Cell, Sheet, read_sheet
from ingest.spreadsheet import translate
from streams.core.contract import validate
from streams.core.log import append_events
from streams.embedded.replay import replay_files

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SAMPLE = EXAMPLES / "followups.xlsx"
MAPPING = EXAMPLES / "followups.mapping.toml"
BAD_ROWS = {36: "日期", 56: "客戶", 88: "方式"}


def sample_mapping() -> SheetMapping:
    return load_mapping(MAPPING, SAMPLE)


def sheet_of(
    rows: list[list[Any]], headers: tuple[str, ...] = ("客戶", "日期", "方式", "業務員")
) -> Sheet:
    return Sheet(
        "s", headers, [(k + 2, dict(zip(headers, r, strict=False))) for k, r in enumerate(rows)]
    )


def mapping(**extra: Any) -> SheetMapping:
    data: dict[str, Any] = {
        "sheet": {"id": "t", "timezone": "+08:00"},
        "columns": {"customer": "客戶", "date": "日期", "channel": "方式", "rep": "業務員"},
        "values": {"channel": {"電話": "phone", "拜訪": "visit"}},
    }
    for key, value in extra.items():
        data.setdefault(key, {}).update(value)
    return parse_mapping(data, "t")


def test_the_sample_sheet_imports_once_and_twice_adds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "followups.jsonl"
    args = ["import", str(SAMPLE), "--mapping", str(MAPPING), "--out", str(log)]
    assert main(args) == 0
    first = log.read_bytes()
    out, err = capsys.readouterr()
    assert "appended 120" in out
    for row, column in BAD_ROWS.items():
        assert f"row {row}: {column}:" in err
    assert main(args) == 0
    assert log.read_bytes() == first
    again = capsys.readouterr().out
    # The same count both times: the sheet's own leads are "already there", not gone.
    assert "-> 120 events; appended 0 to" in again and "120 already there" in again
    assert out.split("->")[1].split(";")[0] == again.split("->")[1].split(";")[0]
    snapshot = replay_files([log])
    assert len(snapshot.customers) == 12
    assert snapshot.stats.rejected == 0 and snapshot.stats.duplicates == 0
    assert set(snapshot.reps) == {"王小明", "李美玲", "陳志強"}


def test_translating_twice_gives_the_same_events_and_every_one_is_valid() -> None:
    m = sample_mapping()
    one = translate(read_sheet(SAMPLE, m.worksheet, m.header_row), m)
    two = translate(read_sheet(SAMPLE, m.worksheet, m.header_row), m)
    assert [e.to_json() for e in one.events] == [e.to_json() for e in two.events]
    assert len({e.event_id for e in one.events}) == len(one.events)
    for event in one.events:
        assert validate(orjson.loads(event.to_json())) == event
        assert event.event_id.startswith("followups-sample:")
    assert sorted(p.row for p in one.problems) == sorted(BAD_ROWS)
    reasons = {p.row: p.reason for p in one.problems}
    assert "not a real date" in reasons[36]
    assert "empty" in reasons[56]
    assert "'傳真' is not a known channel" in reasons[88]


def test_the_same_sheet_as_csv_gives_the_same_events(tmp_path: Path) -> None:
    m = sample_mapping()
    sheet = read_sheet(SAMPLE, m.worksheet)
    path = tmp_path / "followups.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(sheet.headers)
        for _, cells in sheet.rows:
            writer.writerow([_csv_cell(cells.get(h)) for h in sheet.headers])
    from_csv = translate(read_sheet(path), m)
    from_xlsx = translate(sheet, m)
    assert [e.event_id for e in from_csv.events] == [e.event_id for e in from_xlsx.events]
    assert [p.reason for p in from_csv.problems] == [p.reason for p in from_xlsx.problems]


def _csv_cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y/%m/%d %H:%M")
    return "" if value is None else str(value)


def test_ids_survive_new_rows_and_a_new_order() -> None:
    rows = [
        ["甲公司", "2025-03-04 10:00", "電話", "王"],
        ["乙公司", "2025-03-05", "拜訪", "李"],
        ["甲公司", "2025-03-04 10:00", "電話", "王"],  # the same call logged twice: two calls
    ]
    m = mapping()
    before = {e.event_id for e in translate(sheet_of(rows), m).events}
    grown = [["丙公司", "2025-01-01", "電話", "王"], *reversed(rows)]
    after = {e.event_id for e in translate(sheet_of(grown), m).events}
    assert before < after
    assert len(after - before) == 2  # the new contact and its lead
    assert len([e for e in translate(sheet_of(rows), m).events if e.type == "contact_made"]) == 3


def test_cells_dates_numbers_and_time_zones() -> None:
    rows: list[list[Cell]] = [
        ["甲", datetime(2025, 3, 4, 10, 30), "電話", "王", "NT$ 95,000", "12萬"],
        ["乙", "2025/3/5", "拜訪", "王", None, "0"],
        ["丙", "2025年3月6日 14:05", "phone", "王", "1,200", None],
        ["丁", "2025-03-07T08:00:00Z", "電話", "王", None, None],
    ]
    headers = ("客戶", "日期", "方式", "業務員", "報價", "成交")
    m = mapping(columns={"quote_amount": "報價", "order_amount": "成交"})
    result = translate(sheet_of(rows, headers), m)
    assert not result.problems
    contact = {e.customer_id: e for e in result.events if e.type == "contact_made"}
    assert contact["甲"].occurred_at == "2025-03-04T10:30:00+08:00"
    assert contact["乙"].occurred_at == "2025-03-05T09:00:00+08:00"  # the default time
    assert contact["丙"].occurred_at == "2025-03-06T14:05:00+08:00"
    assert contact["丁"].occurred_at == "2025-03-07T16:00:00+08:00"
    amounts = {
        (e.customer_id, e.type): e.payload["amount"] for e in result.events if "amount" in e.payload
    }
    assert amounts == {
        ("甲", "quote_sent"): 95000.0,
        ("甲", "order_won"): 120000.0,
        ("丙", "quote_sent"): 1200.0,
    }


def test_bad_rows_are_reported_with_row_number_and_reason_and_nothing_else_is_lost() -> None:
    rows: list[list[Cell]] = [
        ["好", "2025-03-04", "電話", "王", "1"],
        [None, "2025-03-04", "電話", "王", "1"],
        ["壞日期", "3/4", "電話", "王", "1"],
        ["舊", "1989-12-31", "電話", "王", "1"],
        ["無人", "2025-03-04", "電話", None, "1"],
        ["錢", "2025-03-04", "電話", "王", "很多"],
        ["負", "2025-03-04", "電話", "王", "-5"],
        ["也好", "2025-03-05", "拜訪", "李", None],
    ]
    headers = ("客戶", "日期", "方式", "業務員", "報價")
    result = translate(sheet_of(rows, headers), mapping(columns={"quote_amount": "報價"}))
    problems = {p.row: p.reason for p in result.problems}
    assert sorted(problems) == [3, 4, 5, 6, 7, 8]
    assert problems[3].startswith("客戶: empty")
    assert problems[4].startswith("日期: '3/4' is not a date")
    assert problems[5].startswith("日期:") and "range" in problems[5]
    assert problems[6].startswith("業務員: empty")
    assert problems[7].startswith("報價: '很多' is not a number")
    assert problems[8].startswith("報價: -5 is negative")
    imported = {e.customer_id for e in result.events}
    assert imported == {"好", "也好"}


def test_a_customers_sheet_and_customers_already_in_the_log() -> None:
    headers = ("客戶", "業務員", "來源", "重要度", "建檔日")
    rows: list[list[Cell]] = [
        ["甲", "王", "展會", "VVIP", "2025-01-02"],
        ["乙", None, None, None, "2025-01-03"],
        ["甲", "李", None, None, "2025-01-04"],
    ]
    m = parse_mapping(
        {
            "sheet": {"id": "crm", "rows": "customers"},
            "columns": {
                "customer": "客戶",
                "rep": "業務員",
                "source": "來源",
                "tier": "重要度",
                "date": "建檔日",
            },
            "values": {"source": {"展會": "trade_show"}, "tier": {"VVIP": "vvip"}},
        },
        "crm",
    )
    result = translate(sheet_of(rows, headers), m)
    kinds = sorted((e.customer_id, e.type) for e in result.events)
    assert kinds == [("乙", "lead_created"), ("甲", "importance_set"), ("甲", "lead_created")]
    lead = next(e for e in result.events if e.customer_id == "甲" and e.type == "lead_created")
    assert lead.rep_id == "王" and lead.payload["source"] == "trade_show"
    assert [(p.row, p.reason) for p in result.problems] == [(4, "the customer is already on row 2")]
    again = translate(sheet_of(rows, headers), m, known_customers={"甲"})
    assert {e.type for e in again.events if e.customer_id == "甲"} == {"importance_set"}


def test_mapping_mistakes_are_named() -> None:
    with pytest.raises(MappingError, match="unknown field"):
        parse_mapping({"columns": {"customer": "a", "date": "b", "colour": "c"}}, "x")
    with pytest.raises(MappingError, match="needs customer"):
        parse_mapping({"columns": {"date": "b"}}, "x")
    with pytest.raises(MappingError, match="is not one of"):
        parse_mapping(
            {"columns": {"customer": "a", "date": "b"}, "values": {"channel": {"傳真": "fax"}}}, "x"
        )
    with pytest.raises(MappingError, match="timezone"):
        parse_mapping(
            {"sheet": {"timezone": "Asia/Taipei"}, "columns": {"customer": "a", "date": "b"}}, "x"
        )


def test_a_missing_column_stops_the_import_with_the_headers_listed(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["客戶", "日子"])
    sheet.append(["甲", "2025-01-01"])
    path = tmp_path / "wrong.xlsx"
    book.save(path)
    code = main(
        ["import", str(path), "--mapping", str(MAPPING), "--out", str(tmp_path / "l.jsonl")]
    )
    assert code == 2
    assert not (tmp_path / "l.jsonl").exists()


def test_a_mapping_file_without_a_sheet_id_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MAPPING.read_text(encoding="utf-8")
    lines = [x for x in text.splitlines() if not x.startswith("id = ")]
    assert len(lines) == len(text.splitlines()) - 1  # the sample's id line is gone
    bad = tmp_path / "no-id.mapping.toml"
    bad.write_text("\n".join(lines), encoding="utf-8")
    log = tmp_path / "out.jsonl"
    code = main(["import", str(SAMPLE), "--mapping", str(bad), "--out", str(log)])
    assert code == 2
    assert "[sheet] id is required" in capsys.readouterr().err
    assert not log.exists()


def test_a_customer_known_from_elsewhere_gets_no_second_lead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.jsonl"
    m = sample_mapping()
    first = translate(read_sheet(SAMPLE, m.worksheet, m.header_row), m)
    lead = next(e for e in first.events if e.type == "lead_created")
    other = {
        "event_id": "crm-1",
        "type": "lead_created",
        "occurred_at": "2024-01-01T00:00:00Z",
        "customer_id": lead.customer_id,
        "rep_id": lead.rep_id,
        "payload": {"source": "referral"},
    }
    append_events(log, [validate(other)])
    assert main(["import", str(SAMPLE), "--mapping", str(MAPPING), "--out", str(log)]) == 0
    out = capsys.readouterr().out
    assert "-> 119 events; appended 119" in out
    text = log.read_text(encoding="utf-8").splitlines()
    leads = [x for x in text if '"lead_created"' in x and f'"{lead.customer_id}"' in x]
    assert len(leads) == 1 and '"crm-1"' in leads[0]
