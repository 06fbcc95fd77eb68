"""The mapping file: which sheet column holds which contract field, and what its words mean.

A small TOML (or JSON, same keys) file beside the spreadsheet, for example:

    [sheet]
    id = "followups-east"      # the sheet's stable identity: part of every event_id
    name = "跟進記錄"            # worksheet (xlsx; default the first)
    header_row = 1             # default 1
    rows = "contacts"          # one row per follow-up ("contacts") or per customer ("customers")
    timezone = "+08:00"        # offset for times without one (default +00:00)
    default_time = "09:00"     # time for a date without one (default 09:00)

    [columns]                  # field = the column's header
    customer = "客戶"
    date = "日期"
    channel = "方式"
    rep = "業務員"

    [values.channel]           # the sheet's words = contract values
    "電話" = "phone"

    [defaults]                 # used when a column is absent or its cell empty
    channel = "phone"

Keep `sheet.id` once chosen: event ids derive from it, which is what makes a second import
of the same sheet add nothing.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, time, timedelta, timezone
from pathlib import Path
from typing import Any, Final

from streams.core.contract import CHANNELS, SIZES, SOURCES, TIERS

ROW_KINDS: Final = ("contacts", "customers")
FIELDS: Final = {
    "customer": "the customer's id or name (required)",
    "date": "when the follow-up happened; on a customer row, when the lead came in",
    "rep": "who made the follow-up; on a customer row, the owner",
    "channel": "phone, wechat, sms, email, visit or hosted_visit",
    "effective": "whether the follow-up was effective communication (default yes)",
    "note": "free text, at most 2,000 characters",
    "source": "where the lead came from (trade_show, referral, inbound, ...)",
    "industry": "the customer's industry",
    "size": "small, medium or large",
    "potential_value": "expected yearly spend",
    "tier": "importance: standard, key or vvip",
    "never_suspend": "whether importance forbids suspension",
    "clear_need": "whether the customer has a clear order need",
    "need_value": "the need's expected value",
    "due_date": "the need's due date",
    "quote_amount": "a quote sent on that follow-up",
    "order_amount": "an order won on that follow-up",
}
BOOLEAN_FIELDS: Final = ("effective", "never_suspend", "clear_need")
CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "channel": CHANNELS,
    "source": SOURCES,
    "size": SIZES,
    "tier": TIERS,
}
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})|Z")


class MappingError(ValueError):
    """The mapping file itself is wrong; the message says where."""


@dataclass(frozen=True)
class SheetMapping:
    sheet_id: str
    worksheet: str | None
    header_row: int
    rows: str
    timezone: timezone
    default_time: time
    columns: dict[str, str]
    values: dict[str, dict[str, Any]]
    defaults: dict[str, Any]


def load_mapping(path: Path, sheet_file: Path) -> SheetMapping:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise MappingError(f"{path.name}: cannot be read ({exc})") from None
    sheet = data.get("sheet") if isinstance(data, dict) else None
    if not isinstance(sheet, dict) or not str(sheet.get("id", "")).strip():
        # Never derived from the file's name: renaming the file would import it all again.
        raise MappingError(
            f"{path.name}: [sheet] id is required (every event id derives from it; "
            f'choose one and keep it, e.g. id = "{sheet_file.stem}")'
        )
    return parse_mapping(data, default_id=sheet_file.stem, where=path.name)


def parse_mapping(data: dict[str, Any], default_id: str, where: str = "mapping") -> SheetMapping:
    unknown = set(data) - {"sheet", "columns", "values", "defaults"}
    if unknown:
        raise MappingError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}")
    sheet = _table(data, "sheet", where)
    columns = {str(k): str(v) for k, v in _table(data, "columns", where).items()}
    values = {
        str(k): dict(_table(_table(data, "values", where), k, where))
        for k in data.get("values", {})
    }
    defaults = dict(_table(data, "defaults", where))
    for section, keys in (("columns", columns), ("values", values), ("defaults", defaults)):
        wrong = sorted(set(keys) - set(FIELDS))
        if wrong:
            raise MappingError(
                f"{where}: [{section}] has unknown field(s) {', '.join(wrong)}; "
                f"known: {', '.join(FIELDS)}"
            )
    rows = sheet.get("rows", "contacts")
    if rows not in ROW_KINDS:
        raise MappingError(f"{where}: sheet.rows must be one of {', '.join(ROW_KINDS)}")
    if "customer" not in columns:
        raise MappingError(f"{where}: [columns] needs customer (the customer's column)")
    if rows == "contacts" and "date" not in columns:
        raise MappingError(f"{where}: a contacts sheet needs [columns] date")
    for field, table in values.items():
        allowed = CHOICES.get(field)
        for word, value in table.items():
            if allowed is not None and value not in allowed:
                raise MappingError(
                    f"{where}: values.{field}.{word} = {value!r} is not one of {', '.join(allowed)}"
                )
            if field in BOOLEAN_FIELDS and not isinstance(value, bool):
                raise MappingError(f"{where}: values.{field}.{word} must be true or false")
    sheet_id = str(sheet.get("id", default_id)).strip()
    if not 1 <= len(sheet_id) <= 64:
        raise MappingError(f"{where}: sheet.id must be 1 to 64 characters")
    header_row = sheet.get("header_row", 1)
    if not isinstance(header_row, int) or header_row < 1:
        raise MappingError(f"{where}: sheet.header_row must be a row number (1 or more)")
    return SheetMapping(
        sheet_id=sheet_id,
        worksheet=sheet.get("name"),
        header_row=header_row,
        rows=rows,
        timezone=_timezone(str(sheet.get("timezone", "+00:00")), where),
        default_time=_time(str(sheet.get("default_time", "09:00")), where),
        columns=columns,
        values=values,
        defaults=defaults,
    )


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise MappingError(f"{where}: [{key}] must be a table")
    return value


def _timezone(text: str, where: str) -> timezone:
    match = _OFFSET.fullmatch(text)
    if not match:
        raise MappingError(f"{where}: sheet.timezone must look like +08:00 or Z")
    if text == "Z":
        return UTC
    sign = -1 if match.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def _time(text: str, where: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise MappingError(f"{where}: sheet.default_time must look like 09:00") from None
