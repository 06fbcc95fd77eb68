"""Rows of a spreadsheet (xlsx or csv) as {header: cell}, numbered as the sheet shows them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from openpyxl import load_workbook

Cell = object  # str, int, float, bool, datetime, date, time or None, as the file holds it


@dataclass(frozen=True)
class Sheet:
    name: str
    headers: tuple[str, ...]
    rows: list[tuple[int, dict[str, Cell]]]  # (row number as the sheet shows it, cells)


class SheetError(ValueError):
    """The file cannot be read as a table at all (not a row problem)."""


def read_sheet(path: Path, sheet: str | None = None, header_row: int = 1) -> Sheet:
    """Every non-empty row below the header row. CSV is read as UTF-8 (with or without BOM)."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        name, raw = _xlsx(path, sheet)
    elif suffix in (".csv", ".txt"):
        name, raw = path.stem, _csv(path)
    else:
        raise SheetError(f"{path.name}: not a .xlsx or .csv file")
    headers: tuple[str, ...] = ()
    rows: list[tuple[int, dict[str, Cell]]] = []
    for number, values in raw:
        if number < header_row:
            continue
        if number == header_row:
            headers = tuple("" if v is None else str(v).strip() for v in values)
            continue
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        cells = {h: values[k] if k < len(values) else None for k, h in enumerate(headers) if h}
        rows.append((number, cells))
    if not any(headers):
        raise SheetError(f"{path.name}: no header row at row {header_row}")
    return Sheet(name, headers, rows)


def _xlsx(path: Path, sheet: str | None) -> tuple[str, Iterator[tuple[int, list[Cell]]]]:
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise SheetError(f"{path.name}: not a readable Excel workbook ({exc})") from None
    if sheet is not None and sheet not in book.sheetnames:
        raise SheetError(f"{path.name}: no worksheet {sheet!r} (has {', '.join(book.sheetnames)})")
    ws = book[sheet] if sheet is not None else book.worksheets[0]

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        try:
            for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
                yield number, list(values)
        finally:
            book.close()

    return ws.title, rows()


def _csv(path: Path) -> Iterator[tuple[int, list[Cell]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SheetError(f"{path.name}: not UTF-8 text (save the CSV as UTF-8)") from None
    # Numbered by record, as a spreadsheet program shows the rows (a quoted cell may span
    # several lines of the file).
    for number, values in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        yield number, [v if v != "" else None for v in values]
