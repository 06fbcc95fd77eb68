"""A follow-up spreadsheet, translated into contract events with stable, repeatable ids.

Each row becomes the events it records: a `contact_made` per follow-up row (and a
`quote_sent`, `order_won`, `need_identified` or `importance_set` where its cells say so),
a `lead_created` per customer not yet in the log (at its earliest row, owned by that row's
rep). On a customers sheet each row becomes `lead_created` plus its importance and need.

An event id is `<sheet id>:<type>:<hash>`, the hash taken over the sheet's identity and the
row's facts (customer, time, rep, channel, and which repeat of identical facts it is), not
over its row number or free text: importing the same sheet again, or after rows were added
or re-sorted, yields the same ids for the same follow-ups, so nothing is added twice. Edit
a follow-up's facts after importing and it becomes a new follow-up: the log is append-only.

A row that cannot be read is reported with its row number and the reason, and only that row
is left out; a row imports whole or not at all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from hashlib import blake2b
from typing import Any, Final

from ingest.mapping import BOOLEAN_FIELDS, CHOICES, SheetMapping
from ingest.sheet import Cell, Sheet, SheetError
from streams.core.contract import Event, InvalidEvent, validate

MAX_ID: Final = 64
MAX_NOTE: Final = 2000
# Yes and no as sheets write them (○ and × as on Japanese and Taiwanese forms).
_TRUE: Final = frozenset({"是", "有", "對", "y", "yes", "true", "1", "✓", "✔", "v", "○"})
_FALSE: Final = frozenset({"否", "無", "没", "沒有", "n", "no", "false", "0", "✗", "✘", "x", "×"})
_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+(\d{1,2})[:：時时](\d{2})(?:[:：分](\d{2}))?(?:\.\d+)?秒?)?"
    r"\s*(Z|[+-]\d{2}:\d{2})?"
)
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


class RowError(ValueError):
    """One cell of one row cannot be read; the message names the column."""


@dataclass(frozen=True)
class Problem:
    row: int
    reason: str


@dataclass
class Translation:
    sheet: str
    rows: int
    events: list[Event] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class _Row:
    number: int
    customer: str
    ts_text: str  # occurred_at, ISO-8601 with offset
    moment: datetime
    rep: str | None
    cells: dict[str, Any]  # field -> value in contract terms (only non-empty ones)


# ---------------------------------------------------------------- cells


class _Reader:
    def __init__(self, mapping: SheetMapping, cells: dict[str, Cell]) -> None:
        self.m = mapping
        self.cells = cells

    def raw(self, name: str) -> Cell:
        header = self.m.columns.get(name)
        value = self.cells.get(header) if header is not None else None
        if value is None or (isinstance(value, str) and not value.strip()):
            return self.m.defaults.get(name)
        return value

    def fail(self, name: str, what: str) -> RowError:
        return RowError(f"{self.m.columns.get(name, name)}: {what}")

    def text(self, name: str, collapse: bool = True) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # an id typed as a number: 1024, not 1024.0
        # Names and words: stray spaces and line breaks are typing, not meaning.
        return " ".join(str(value).split()) if collapse else str(value).strip()

    def word(self, name: str) -> str | None:
        text = self.text(name)
        if text is None:
            return None
        table = self.m.values.get(name, {})
        if text in table:
            return str(table[text])
        folded = {k.casefold(): v for k, v in table.items()}
        if text.casefold() in folded:
            return str(folded[text.casefold()])
        allowed = CHOICES.get(name)
        if allowed is None or text in allowed:
            return text
        raise self.fail(name, f"{text!r} is not a known {name} (add it under [values.{name}])")

    def flag(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is None or isinstance(value, bool):
            return value
        text = self.text(name) or ""
        table = self.m.values.get(name, {})
        if text in table:
            return bool(table[text])
        if text.casefold() in _TRUE:
            return True
        if text.casefold() in _FALSE:
            return False
        raise self.fail(name, f"{text!r} is not yes or no (add it under [values.{name}])")

    def number(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.fail(name, "must be a number")
        if isinstance(value, int | float):
            number = float(value)
        else:
            text = str(value).replace(",", "").replace("，", "").strip()
            scale = 1.0
            if text.endswith(("萬", "万")):
                scale, text = 10_000.0, text[:-1]
            match = _NUMBER.search(text)
            if not match or len(text) - len(match.group()) > 4:  # room for "NT$", "元"
                raise self.fail(name, f"{value!r} is not a number")
            number = float(match.group()) * scale
        if number != number or number in (float("inf"), float("-inf")):
            raise self.fail(name, "must be a finite number")
        if number < 0:
            raise self.fail(name, f"{number:g} is negative")
        return number

    def moment(self, name: str) -> datetime:
        value = self.raw(name)
        if value is None:
            raise self.fail(name, "empty (a date is needed)")
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime.combine(value, self.m.default_time)
        else:
            moment = self._parse(name, str(value).strip())
        return moment if moment.tzinfo else moment.replace(tzinfo=self.m.timezone)

    def _parse(self, name: str, text: str) -> datetime:
        match = _DATE.fullmatch(text)
        if not match:
            raise self.fail(name, f"{text!r} is not a date (e.g. 2025-03-04 or 2025/3/4 14:30)")
        y, mo, d, h, mi, s, offset = match.groups()
        try:
            moment = datetime(int(y), int(mo), int(d))
            if h is None:
                moment = datetime.combine(moment.date(), self.m.default_time)
            else:
                moment = moment.replace(hour=int(h), minute=int(mi), second=int(s or 0))
        except ValueError:
            raise self.fail(name, f"{text!r} is not a real date") from None
        if offset:
            moment = datetime.fromisoformat(moment.isoformat() + offset.replace("Z", "+00:00"))
        return moment

    def day(self, name: str) -> str | None:
        if self.raw(name) is None:
            return None
        return self.moment(name).date().isoformat()


def _short_id(text: str) -> str:
    # Names make readable ids; a name past the contract's 64 characters keeps its start
    # and a hash of the whole, so two long names stay two ids.
    if len(text) <= MAX_ID:
        return text
    digest = blake2b(text.encode(), digest_size=4).hexdigest()
    return f"{text[: MAX_ID - 9]}~{digest}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- rows


def _read_row(mapping: SheetMapping, number: int, cells: dict[str, Cell]) -> _Row:
    r = _Reader(mapping, cells)
    customer = r.text("customer")
    if not customer:
        raise r.fail("customer", "empty (every row needs its customer)")
    if mapping.rows == "contacts" or r.raw("date") is not None:
        moment = r.moment("date")
    else:
        raise RowError("no date: map [columns] date or set [defaults] date")
    rep = r.word("rep")
    if rep is not None and len(rep) > MAX_ID:
        raise r.fail("rep", f"longer than {MAX_ID} characters")
    values: dict[str, Any] = {}
    for name in ("channel", "source", "size", "tier"):
        values[name] = r.word(name)
    for name in BOOLEAN_FIELDS:
        values[name] = r.flag(name)
    for name in ("potential_value", "need_value", "quote_amount", "order_amount"):
        values[name] = r.number(name)
    values["industry"] = r.text("industry")
    values["note"] = r.text("note", collapse=False)
    values["due_date"] = r.day("due_date")
    try:
        occurred = _iso(moment.astimezone(mapping.timezone))
    except (OverflowError, ValueError):
        raise r.fail("date", "out of range") from None
    return _Row(
        number,
        _short_id(customer),
        occurred,
        moment,
        rep,
        {k: v for k, v in values.items() if v is not None},
    )


class _Ids:
    """Event ids from the sheet's identity and a row's facts, with a repeat counter."""

    def __init__(self, sheet_id: str) -> None:
        self.sheet_id = sheet_id
        self.seen: Counter[tuple[str, ...]] = Counter()

    def key(self, *facts: str) -> tuple[str, ...]:
        """The facts and how many rows with the same facts were imported before."""
        return (*facts, str(self.seen[facts]))

    def taken(self, key: tuple[str, ...]) -> None:
        # Counted only once the row imports: a bad row must not shift the ids of the
        # identical rows after it, or fixing it later would re-import them.
        self.seen[key[:-1]] += 1

    def make(self, kind: str, key: tuple[str, ...]) -> str:
        text = "\x1f".join((self.sheet_id, kind, *key))
        return f"{self.sheet_id}:{kind}:{blake2b(text.encode(), digest_size=10).hexdigest()}"


def _event(event_id: str, kind: str, row: _Row, payload: dict[str, Any]) -> Event:
    return validate(
        {
            "event_id": event_id,
            "type": kind,
            "occurred_at": row.ts_text,
            "customer_id": row.customer,
            "rep_id": row.rep,
            "payload": payload,
        }
    )


def _need(cells: dict[str, Any]) -> dict[str, Any]:
    need: dict[str, Any] = {"clear_need": cells["clear_need"]}
    if "need_value" in cells:
        need["expected_value"] = cells["need_value"]
    if "due_date" in cells:
        need["due_date"] = cells["due_date"]
    return need


def _importance(cells: dict[str, Any], now: tuple[str, bool] | None) -> tuple[str, bool] | None:
    """The importance a row sets, if it changes what the customer had."""
    if "tier" not in cells and "never_suspend" not in cells:
        return None
    tier = cells.get("tier", now[0] if now else "standard")
    never = cells.get("never_suspend", now[1] if now else False)
    return None if (tier, never) == now else (tier, never)


def _lead(rows: list[_Row]) -> dict[str, Any]:
    """A lead's facts: for each, the first of the customer's rows that gives it."""
    payload: dict[str, Any] = {}
    for name in ("source", "industry", "size", "potential_value"):
        payload.update(next(({name: r.cells[name]} for r in rows if name in r.cells), {}))
    payload.setdefault("source", "other")
    return payload


# Which mapped field a contract field of each event type came from, to name its column.
_ORIGIN: Final = {
    ("quote_sent", "amount"): "quote_amount",
    ("order_won", "amount"): "order_amount",
    ("need_identified", "expected_value"): "need_value",
}


def _reason(exc: InvalidEvent, kind: str, mapping: SheetMapping) -> str:
    where, _, what = str(exc).partition(": ")
    name = where.removeprefix("payload.")
    name = _ORIGIN.get(
        (kind, name),
        {"customer_id": "customer", "rep_id": "rep", "occurred_at": "date"}.get(name, name),
    )
    header = mapping.columns.get(name)
    return f"{header}: {what}" if header else f"{kind} {where}: {what}"


def _emit(
    specs: list[tuple[str, str, dict[str, Any]]],
    row: _Row,
    mapping: SheetMapping,
    result: Translation,
) -> bool:
    """Validate a row's events together; keep them all, or report the row and keep none."""
    events = []
    for event_id, kind, payload in specs:
        try:
            events.append(_event(event_id, kind, row, payload))
        except InvalidEvent as exc:
            result.problems.append(Problem(row.number, _reason(exc, kind, mapping)))
            return False
    result.events.extend(events)
    return True


def translate(
    sheet: Sheet, mapping: SheetMapping, known_customers: Iterable[str] = ()
) -> Translation:
    """The sheet's events; customers in `known_customers` get no new `lead_created`."""
    missing = [f"{h} ({name})" for name, h in mapping.columns.items() if h not in sheet.headers]
    if missing:
        raise SheetError(
            f"sheet {sheet.name!r} has no column {', '.join(missing)}; "
            f"its headers are: {', '.join(h for h in sheet.headers if h)}"
        )
    result = Translation(sheet.name, len(sheet.rows))
    rows: list[_Row] = []
    for number, cells in sheet.rows:
        try:
            rows.append(_read_row(mapping, number, cells))
        except RowError as exc:
            result.problems.append(Problem(number, str(exc)))
    # Earliest first, so a customer's lead is its first follow-up and importance changes
    # are read in the order they happened; identical facts keep their sheet order.
    rows.sort(key=lambda r: (r.moment.astimezone(UTC), r.number))
    known = set(known_customers)
    if mapping.rows == "customers":
        _customers(rows, mapping, known, result)
    else:
        _contacts(rows, mapping, known, result)
    result.problems.sort(key=lambda p: p.row)
    return result


def _contacts(
    rows: list[_Row], mapping: SheetMapping, known: set[str], result: Translation
) -> None:
    ids = _Ids(mapping.sheet_id)
    tiers: dict[str, tuple[str, bool]] = {}
    imported: dict[str, list[_Row]] = {}
    for row in rows:
        c = row.cells
        if row.rep is None or "channel" not in c:
            name = "rep" if row.rep is None else "channel"
            header = mapping.columns.get(name, name)
            result.problems.append(
                Problem(row.number, f"{header}: empty (a follow-up needs its {name})")
            )
            continue
        key = ids.key(row.customer, row.ts_text, row.rep, c["channel"])
        contact: dict[str, Any] = {"channel": c["channel"], "effective": c.get("effective", True)}
        if c.get("note"):
            if len(c["note"]) > MAX_NOTE:
                result.warnings.append(Problem(row.number, f"note cut to {MAX_NOTE} characters"))
            contact["note"] = c["note"][:MAX_NOTE]
        specs = [(ids.make("contact_made", key), "contact_made", contact)]
        # Quote and order ids from the follow-up's identity: stable across imports too.
        deal_id = f"{mapping.sheet_id}/{ids.make('deal', key)[-20:]}"
        if "quote_amount" in c:
            quote = {"quote_id": deal_id, "amount": c["quote_amount"]}
            specs.append((ids.make("quote_sent", key), "quote_sent", quote))
        if c.get("order_amount"):  # 0 means no order: the contract wants amount > 0
            order = {"order_id": deal_id, "amount": c["order_amount"]}
            specs.append((ids.make("order_won", key), "order_won", order))
        if "clear_need" in c:
            specs.append((ids.make("need_identified", key), "need_identified", _need(c)))
        importance = _importance(c, tiers.get(row.customer))
        if importance is not None:
            tier = {"tier": importance[0], "never_suspend": importance[1]}
            specs.append((ids.make("importance_set", key), "importance_set", tier))
        if _emit(specs, row, mapping, result):
            ids.taken(key)
            if importance is not None:
                tiers[row.customer] = importance
            imported.setdefault(row.customer, []).append(row)
    for customer, own in imported.items():
        if customer not in known:
            lead_id = ids.make("lead_created", (customer,))
            result.events.append(_event(lead_id, "lead_created", own[0], _lead(own)))


def _customers(
    rows: list[_Row], mapping: SheetMapping, known: set[str], result: Translation
) -> None:
    ids = _Ids(mapping.sheet_id)
    first_row: dict[str, int] = {}
    for row in rows:
        if row.customer in first_row:
            where = first_row[row.customer]
            result.problems.append(Problem(row.number, f"the customer is already on row {where}"))
            continue
        c = row.cells
        specs: list[tuple[str, str, dict[str, Any]]] = []
        if row.customer not in known:
            specs.append((ids.make("lead_created", (row.customer,)), "lead_created", _lead([row])))
        importance = _importance(c, None)
        if importance is not None:
            tier = {"tier": importance[0], "never_suspend": importance[1]}
            key = (row.customer, *map(str, importance))
            specs.append((ids.make("importance_set", key), "importance_set", tier))
        if "clear_need" in c:
            need = _need(c)
            key = (row.customer, *(f"{k}={v}" for k, v in sorted(need.items())))
            specs.append((ids.make("need_identified", key), "need_identified", need))
        if _emit(specs, row, mapping, result):
            first_row[row.customer] = row.number
