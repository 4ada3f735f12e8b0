"""Reading spreadsheets and exports: headers, numbers and dates as people type them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from usage.errors import ImportFileError

_BRACKETS = re.compile(r"[\(\[\{]([^\)\]\}]*)[\)\]\}]")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?\Z")
_CURRENCY = re.compile(r"[\s$€£¥]|usd|eur", re.IGNORECASE)


def header_key(name: str) -> str:
    """``" Cost (USD) "`` -> ``cost_usd``; ``startTime`` -> ``starttime``."""
    text = _BRACKETS.sub(r" \1 ", name.strip().lower())
    return _NON_WORD.sub("_", text).strip("_")


class BadValue(ValueError):
    """A cell that cannot be read; the message says what was wrong."""


def parse_decimal(text: str | None) -> Decimal | None:
    """Read a money or count cell: ``"1,234.56"``, ``"$12.50"``, ``"0,75"``; blank is None."""
    if text is None:
        return None
    if _PLAIN_NUMBER.match(text):
        return Decimal(text)
    raw = text.strip()
    if not raw or raw.lower() in ("null", "none", "n/a", "-"):
        return None
    cleaned = _CURRENCY.sub("", raw)
    if ("," in cleaned and "." in cleaned) or _THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(",", "")
    elif cleaned.count(",") == 1:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise BadValue(f"{raw!r} is not a number") from exc
    if not value.is_finite():
        raise BadValue(f"{raw!r} is not a number")
    return value


def parse_count(text: str | None) -> int | None:
    """Read a whole-number cell (token or request counts)."""
    if text is not None and text.isascii() and text.isdigit():
        return int(text)
    value = parse_decimal(text)
    if value is None:
        return None
    if value != value.to_integral_value():
        raise BadValue(f"{text.strip()!r} is not a whole number")
    return int(value)


@dataclass(frozen=True)
class DateStyle:
    """How one column writes its dates, decided from the whole column."""

    kind: str  # iso|dmy|mdy

    def parse(self, text: str) -> datetime | date:
        raw = text.strip()
        if self.kind == "iso":
            return parse_instant_or_date(raw)
        parts = re.split(r"[/.]", raw)
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise BadValue(f"{raw!r} is not a date like the others in its column")
        first, second, year = (int(p) for p in parts)
        year = year + 2000 if year < 100 else year
        day, month = (first, second) if self.kind == "dmy" else (second, first)
        try:
            return date(year, month, day)
        except ValueError as exc:
            raise BadValue(f"{raw!r} is not a real date") from exc


def parse_instant_or_date(raw: str) -> datetime | date:
    """An ISO date, or an ISO instant (``Z`` or an offset; none means UTC)."""
    text = raw.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise BadValue(f"{raw!r} is not a real date") from exc
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError as exc:
        raise BadValue(f"{raw!r} is not a date or time") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def detect_date_style(values: list[str], *, column: str, origin: str) -> DateStyle:
    """Decide a column's date format from all its values, never cell by cell."""
    present = [v.strip() for v in values if v and v.strip()]
    if not present:
        raise ImportFileError(f"{origin}: column {column!r} has no dates")
    if all(re.match(r"\d{4}-\d{2}-\d{2}", v) for v in present):
        return DateStyle("iso")
    slashed = [
        re.split(r"[/.]", v)
        for v in present
        if re.fullmatch(r"\d{1,2}[/.]\d{1,2}[/.]\d{2,4}", v)
    ]
    if not slashed:
        raise ImportFileError(
            f"{origin}: column {column!r} holds no dates aispend can read "
            f"(first value {present[0]!r}); write them as YYYY-MM-DD"
        )
    day_first = any(int(p[0]) > 12 for p in slashed)
    month_first = any(int(p[1]) > 12 for p in slashed)
    if day_first and month_first:
        raise ImportFileError(
            f"{origin}: column {column!r} mixes day-first and month-first dates"
        )
    if not (day_first or month_first):
        raise ImportFileError(
            f"{origin}: dates in column {column!r} such as {present[0]!r} could be "
            "day-first or month-first; write them as YYYY-MM-DD"
        )
    return DateStyle("dmy" if day_first else "mdy")


@dataclass
class Table:
    """A CSV file read whole: normalised headers and rows with their line numbers."""

    origin: str
    headers: list[str]
    raw_headers: list[str]
    rows: Iterable[tuple[int, dict[str, str]]]

    def close(self) -> None:
        """Release the file behind a streamed table (nothing to do for a read one)."""
        closer = getattr(self.rows, "close", None)
        if closer is not None:
            closer()
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()

    def column(self, name: str) -> list[str]:
        return [row.get(name, "") for _, row in self.rows]


def read_table(path: str | Path) -> Table:
    """Read a whole CSV export (BOM, CRLF and quoted thousands allowed)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ImportFileError(f"{path}: no such file") from exc
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read it ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return parse_table(text, origin=path.name)


def parse_table(text: str, *, origin: str) -> Table:
    table = _table(csv.reader(io.StringIO(text, newline="")), origin=origin)
    table.rows = list(table.rows)
    return table


def stream_table(path: str | Path) -> Table:
    """Open a CSV export whose rows are read one by one, for files of any size.

    ``rows`` is an iterator: it can be walked once, and it closes the file at
    the end. The file must be UTF-8 (with or without a byte-order mark).
    """
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError as exc:
        raise ImportFileError(f"{path}: no such file") from exc
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read it ({exc.strerror})") from exc
    try:
        table = _table(csv.reader(handle), origin=path.name)
    except (ImportFileError, UnicodeDecodeError) as exc:
        handle.close()
        if isinstance(exc, UnicodeDecodeError):
            raise ImportFileError(f"{path.name}: the file is not UTF-8") from exc
        raise
    table.rows = _closing(table.rows, handle, origin=path.name)
    table._handle = handle
    return table


def _closing(rows, handle, *, origin: str):
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{origin}: the file is not UTF-8 past the rows read"
        ) from exc
    finally:
        handle.close()


def _table(reader, *, origin: str) -> Table:
    try:
        raw_headers = next(reader)
    except StopIteration as exc:
        raise ImportFileError(f"{origin}: the file is empty") from exc
    except csv.Error as exc:
        raise ImportFileError(f"{origin}: not a CSV file ({exc})") from exc
    headers = [header_key(h) for h in raw_headers]
    return Table(
        origin=origin,
        headers=headers,
        raw_headers=raw_headers,
        rows=_rows(reader, headers, origin),
    )


def _rows(reader, headers: list[str], origin: str):
    try:
        for cells in reader:
            yield reader.line_num, dict(zip(headers, cells, strict=False))
    except csv.Error as exc:
        raise ImportFileError(
            f"{origin}: line {reader.line_num} is not valid CSV ({exc})"
        ) from exc


def iter_blank(row: dict[str, str]) -> bool:
    return not any((v or "").strip() for v in row.values())


def resolve_columns(
    table: Table, synonyms: dict[str, tuple[str, ...]], *, ignored: tuple[str, ...] = ()
) -> dict[str, str]:
    """Map canonical names to the file's columns; an unknown column is an error."""
    found: dict[str, str] = {}
    for raw, header in zip(table.raw_headers, table.headers, strict=True):
        if not header:
            continue
        for canonical, names in synonyms.items():
            if header in names and canonical not in found:
                found[canonical] = header
                break
        else:
            if header in ignored:
                continue
            known = ", ".join(names[0] for names in synonyms.values())
            raise ImportFileError(
                f"{table.origin}: column {raw.strip()!r} is not one aispend reads "
                f"(it reads: {known}); rename or remove it"
            )
    return found


def count_field(value: object, *, name: str) -> int:
    """A token or request count from a vendor's JSON: a number, a numeric string
    (some APIs send counts as strings), or absent (0). Booleans are not counts."""
    if value is None or value == "":
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    count = parse_count(str(value))
    if count is None:
        raise BadValue(f"{name} is blank")
    return count
