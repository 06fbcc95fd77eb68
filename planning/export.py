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
        write_workbook(tables, out)
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


def write_workbook(tables: Mapping[str, pd.DataFrame], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    for name, table in tables.items():
        sheet = book.create_sheet(title=name[:31])  # Excel's limit on sheet names
        _fill(sheet, table)
    book.save(out)


def _fill(sheet: Any, table: pd.DataFrame) -> None:
    for k, column in enumerate(table.columns):
        sheet.column_dimensions[get_column_letter(k + 1)].width = min(
            60, max(10, len(str(column)) + 2)
        )
    sheet.append([str(c) for c in table.columns])
    for row in table.head(EXCEL_MAX_ROWS).itertuples(index=False, name=None):
        sheet.append([_cell(sheet, value) for value in row])


def _cell(sheet: Any, value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, str) and value.startswith("="):
        # openpyxl would store it as a formula: a customer named "=..." stays text.
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value
