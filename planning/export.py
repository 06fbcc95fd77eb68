"""Tables to the files people open: CSV (UTF-8 with a byte-order mark, so Excel reads the
Chinese names right) and Excel workbooks (one sheet per table)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

FORMATS: Final = ("csv", "xlsx")
EXCEL_MAX_ROWS: Final = 1_048_575  # one row is the header


def write_tables(tables: Mapping[str, pd.DataFrame], out: Path, fmt: str) -> list[Path]:
    """Write tables; return the files written.

    xlsx: one workbook at `out`, a sheet per table. csv: one table goes to `out` itself;
    several go to `out` as a folder, one `<name>.csv` each.
    """
    if fmt == "xlsx":
        write_workbook(tables, out, TABLE_FORMATS)
        return [out]
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if len(tables) == 1:
        out.parent.mkdir(parents=True, exist_ok=True)
        next(iter(tables.values())).to_csv(out, index=False, encoding="utf-8-sig")
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        path = out / f"{name}.csv"
        table.to_csv(path, index=False, encoding="utf-8-sig")
        written.append(path)
    return written


# Excel number formats people read: a share as a percentage, money with separators.
PERCENT: Final = "0.0%"
MONEY: Final = "#,##0"


# The planning tables' shares and money, as Excel shows them (the values stay numbers).
TABLE_FORMATS: Final = {
    "p_close": PERCENT,
    "conversion": PERCENT,
    "share": PERCENT,
    "predicted_value": MONEY,
    "expected_value": MONEY,
    "assigned_value": MONEY,
    "order_value": MONEY,
    "value": MONEY,
}


def write_workbook(
    tables: Mapping[str, pd.DataFrame],
    out: Path,
    formats: Mapping[str, str] | None = None,
) -> None:
    """One sheet per table, each with its header frozen and a filter on it.

    `formats`: an Excel number format per column name (`PERCENT`, `MONEY`...).
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    used: set[str] = set()
    for name, table in tables.items():
        sheet = book.create_sheet(title=sheet_title(name, used))
        _fill(sheet, table, formats or {})
    book.save(out)


def sheet_title(name: str, used: set[str]) -> str:
    """A sheet name Excel accepts (31 characters, none of []:*?/\\), unique in the book."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "sheet"
    title, n = clean, 1
    while title.lower() in used:
        n += 1
        title = f"{clean[: 31 - len(str(n)) - 1]}~{n}"
    used.add(title.lower())
    return title


def _display_width(text: str) -> int:
    # A Chinese character takes two columns in Excel's default font, as in a terminal.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _fill(sheet: Any, table: pd.DataFrame, formats: Mapping[str, str]) -> None:
    rows = table.head(EXCEL_MAX_ROWS)
    for k, column in enumerate(table.columns):
        sample = [str(v) for v in rows[column].head(200).tolist() if v is not None]
        widest = max([_display_width(str(column)), *map(_display_width, sample)])
        sheet.column_dimensions[get_column_letter(k + 1)].width = min(60, max(8, widest + 2))
    sheet.freeze_panes = "A2"
    if len(table.columns):
        last = get_column_letter(len(table.columns))
        sheet.auto_filter.ref = f"A1:{last}{len(rows) + 1}"
    sheet.append([str(c) for c in table.columns])
    number_formats = [formats.get(str(c)) for c in table.columns]
    for row in rows.itertuples(index=False, name=None):
        sheet.append(
            [_cell(sheet, value, fmt) for value, fmt in zip(row, number_formats, strict=True)]
        )


def _cell(sheet: Any, value: object, number_format: str | None = None) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, str) and value.startswith("="):
        # openpyxl would store it as a formula: a customer named "=..." stays text.
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    if number_format is not None and isinstance(value, int | float):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = number_format
        return cell
    return value
