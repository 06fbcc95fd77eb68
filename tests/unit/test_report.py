"""The HTML report and the exports: charts embedded, tables readable, no portrait secrets."""

from __future__ import annotations

import base64
import re
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
import pytest
from openpyxl import load_workbook

from closecast.cli import main
from planning.export import write_tables
from streams.core.log import append_events
from tests.support.planning import DAY, T0, customer_events, ev, iso, joined

SECRETS = ("DEEP-總經理要換供應商", "EXTENDED-兒子在台大念書", "0912-345-678")


def _log(path: Path) -> Path:
    events = [joined("r1", 900, team="east"), joined("r2", 30, team="south")]
    events.append(joined("boss", 2000, role="manager"))
    for k in range(6):
        c = f"c{k}"
        events += customer_events(c, "r1", n=4 + 2 * k, last_days_ago=20 + k)
        for section, secret in (("deep", SECRETS[0]), ("extended", SECRETS[1])):
            fields = {"note": secret, "mobile": SECRETS[2]}
            events.append(ev("portrait_updated", -40 * DAY, c, section=section, fields=fields))
        events.append(ev("portrait_updated", -50 * DAY, c, "r1", section="needs", fields={"x": 1}))
        basic = {"company": f"宏達印刷{k}", "contact_name": f"王{k}", "phone": f"02-2345-000{k}"}
        events.append(ev("portrait_updated", -60 * DAY, c, "r1", section="basic", fields=basic))
    events.append(ev("order_won", -120 * DAY, "c1", "r1", order_id="o1", amount=3000.0))
    events.append(ev("customer_suspended", -3 * DAY, "c5", "r1", reason="timing"))
    append_events(path, events)
    return path


def run(*args: str | Path) -> None:
    assert main([str(a) for a in args]) == 0


def _files(folder: Path) -> list[bytes]:
    out = []
    for path in folder.rglob("*"):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as archive:
                out += [archive.read(name) for name in archive.namelist()]
        elif path.is_file():
            out.append(path.read_bytes())
    return out


def test_no_deep_or_extended_portrait_value_reaches_any_list_export_or_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(tmp_path / "log.jsonl")
    out = tmp_path / "out"
    out.mkdir()
    as_of = ["--as-of", iso(T0)]
    for fmt in ("csv", "xlsx", "json", "table"):
        run("calllist", log, *as_of, "--format", fmt, "--out", out / f"calls.{fmt}")
    run("calllist", log, *as_of)
    run("manager", log, *as_of, "--format", "xlsx", "--out", out / "m.xlsx")
    run("manager", log, *as_of, "--format", "csv", "--out", out / "tables")
    run("manager", log, *as_of)
    run("pool", log, *as_of, "--out", out / "pool.csv")
    run("report", log, *as_of, "--out", out / "report.html")
    printed = capsys.readouterr()
    blobs = [*_files(out), printed.out.encode(), printed.err.encode()]
    assert len(blobs) > 20
    assert "宏達印刷0".encode() in blobs[-2]  # the printed lists name customers: the search is live
    for secret in SECRETS:
        needles = (secret.encode(), secret.encode("unicode_escape"))
        assert not any(n in blob for n in needles for blob in blobs), secret
    assert SECRETS[0].encode() in log.read_bytes()  # they were in the log all along


def test_the_report_is_one_page_with_its_charts_and_tables(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.jsonl")
    page = tmp_path / "report.html"
    run("report", log, "--as-of", iso(T0), "--out", page)
    text = page.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 3  # funnel, pool assignment, pipeline
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert "http://" not in text and "https://" not in text and "<script" not in text
    for title in (
        "Funnel",
        "Activity alerts",
        "Public pool",
        "Dormant customers",
        "Pipeline value",
        "Team health",
    ):
        assert f"<h2>{title}" in text
    assert "c5" in text  # the suspended customer, in the pool table
    assert "10%-15%" in text


def test_xlsx_export_keeps_every_table_and_text_that_looks_like_a_formula(tmp_path: Path) -> None:
    tables = {
        "calls": pd.DataFrame(
            {"customer_id": ["=HYPERLINK(1)", "客戶"], "value": [1.5, float("nan")]}
        ),
        "a_very_long_table_name_past_thirty_one_chars": pd.DataFrame({"x": [1]}),
    }
    path = tmp_path / "t.xlsx"
    write_tables(tables, path, "xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["calls", "a_very_long_table_name_past_thi"]
    rows = list(book["calls"].iter_rows(values_only=True))
    assert rows == [("customer_id", "value"), ("=HYPERLINK(1)", 1.5), ("客戶", None)]
    assert book["calls"]["A2"].data_type == "s"
    folder = write_tables(tables, tmp_path / "csv", "csv")
    assert [p.name for p in folder] == [
        "calls.csv",
        "a_very_long_table_name_past_thirty_one_chars.csv",
    ]
    assert folder[0].read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese


def test_call_list_xlsx_a_manager_can_hand_out(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.jsonl")
    path = tmp_path / "calls.xlsx"
    run("calllist", log, "--as-of", iso(T0), "--format", "xlsx", "--out", path)
    book = load_workbook(path)
    assert book.sheetnames == ["Summary", "r1"]  # one sheet per rep, after a summary
    sheet = book["r1"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}6"
    frame = pd.read_excel(path, sheet_name="r1")
    assert list(frame.columns[:5]) == ["Rank", "Company", "Contact", "Phone", "Customer id"]
    assert list(frame["Rank"]) == [1, 2, 3, 4, 5]
    assert set(frame["Company"]) == {f"宏達印刷{k}" for k in range(5)}
    assert frame["Phone"].str.match(r"^02-2345-000\d$").all()
    chance = list(frame.columns).index("Chance to close") + 1
    assert sheet.cell(2, chance).number_format == "0.0%"
    assert 0 < sheet.cell(2, chance).value < 1
    assert frame["Score reasons"].str.match(r"^(raises|lowers) the chance: ").all()
    summary = pd.read_excel(path, sheet_name="Summary")
    assert summary.loc[0, "Lines"] == 5


def test_manager_workbook_has_frozen_filtered_headers_and_percentages(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.jsonl")
    path = tmp_path / "m.xlsx"
    run("manager", log, "--as-of", iso(T0), "--format", "xlsx", "--out", path)
    book = load_workbook(path)
    formats = set()
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref, sheet.title
        header = [c.value for c in sheet[1]]
        if "p_close" in header and sheet.max_row > 1:
            formats.add(sheet.cell(2, header.index("p_close") + 1).number_format)
    assert formats == {"0.0%"}


def test_call_list_workbook_in_traditional_chinese(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.jsonl")
    path = tmp_path / "calls.xlsx"
    args = ("calllist", log, "--as-of", iso(T0), "--format", "xlsx", "--out", path)
    run(*args, "--lang", "zh-Hant")
    book = load_workbook(path)
    assert book.sheetnames == ["總覽", "r1"]
    frame = pd.read_excel(path, sheet_name="r1")
    assert list(frame.columns[:5]) == ["順位", "公司", "聯絡人", "電話", "客戶編號"]
    assert set(frame["到期"]) <= {"逾期", "今天到期", "新潛在客戶", "未到期"}
    assert frame["評分原因"].str.match(r"^(提高|降低)機率：").all()
    chance = list(frame.columns).index("成交機率") + 1
    assert book["r1"].cell(2, chance).number_format == "0.0%"
