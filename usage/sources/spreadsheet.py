"""``aispend ingest csv``: a generic spend or usage spreadsheet.

Each row is one person's usage of one tool (and model) on one day: a cost, or
token counts to price, or both. ``input_tokens`` excludes cached tokens;
``prompt_tokens`` (gateway style) includes them and the cache columns are
taken out before pricing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from usage.errors import ImportFileError
from usage.pricing import Tokens
from usage.sources.tabular import (
    BadValue,
    Table,
    detect_date_style,
    iter_blank,
    parse_count,
    parse_decimal,
    resolve_columns,
)
from usage.store import ImportReport, UsageRow

SOURCE = "csv"

COLUMNS: dict[str, tuple[str, ...]] = {
    "date": (
        "date",
        "day",
        "usage_date",
        "timestamp",
        "time",
        "start_time",
        "billing_date",
    ),
    "email": ("user_email", "email", "user", "person", "owner", "email_address"),
    "tool": ("tool", "product", "service", "app"),
    "model": ("model", "model_name", "model_id"),
    "cost": (
        "cost_usd",
        "cost",
        "spend",
        "spend_usd",
        "amount",
        "amount_usd",
        "usd",
        "total_cost",
        "total_cost_usd",
    ),
    "id": ("id", "request_id", "row_id", "event_id"),
    "input_tokens": ("input_tokens", "uncached_input_tokens", "tokens_in"),
    "prompt_tokens": ("prompt_tokens",),
    "cache_read": ("cache_read_tokens", "cache_read_input_tokens", "cached_tokens"),
    "cache_write": (
        "cache_write_tokens",
        "cache_creation_tokens",
        "cache_creation_input_tokens",
    ),
    "output_tokens": ("output_tokens", "completion_tokens", "tokens_out"),
    "requests": ("requests", "num_requests", "request_count", "calls"),
}
IGNORED = ("notes", "note", "comment", "comments", "description", "team", "name")


def read_rows(
    table: Table, *, tool: str | None, report: ImportReport
) -> list[UsageRow]:
    """Turn a spreadsheet into usage rows, reporting bad rows by line."""
    columns = resolve_columns(table, COLUMNS, ignored=IGNORED)
    _require(columns, table, tool)
    style = detect_date_style(
        table.column(columns["date"]), column="date", origin=table.origin
    )
    rows: dict[str, UsageRow] = {}
    for line, cells in table.rows:
        report.rows_read += 1
        if iter_blank(cells):
            report.blank += 1
            continue
        try:
            row = _row(cells, columns, style, tool=tool, line=line, report=report)
        except BadValue as exc:
            report.reject(f"line {line}", str(exc))
            continue
        if row is None:
            continue
        earlier = rows.get(row.source_key)
        if earlier is not None and "id" not in columns and _mergeable(earlier, row):
            # One row is one person's day of one tool and model: repeats add up.
            rows[row.source_key] = _merged(earlier, row)
            report.flag(
                row.location,
                f"same day, person, tool and model as {earlier.location}; added together",
            )
            continue
        if earlier is not None:
            row.source_key = f"{row.source_key}|{row.location}"
        rows[row.source_key] = row
    return list(rows.values())


def _mergeable(first: UsageRow, second: UsageRow) -> bool:
    def sound(row: UsageRow) -> bool:
        counts = (
            row.tokens.input,
            row.tokens.cache_read,
            row.tokens.cache_write_5m,
            row.tokens.output,
        )
        return min(counts) >= 0 and (row.source_cost is None or row.source_cost >= 0)

    return (
        sound(first)
        and sound(second)
        and (first.source_cost is None) == (second.source_cost is None)
    )


def _merged(first: UsageRow, second: UsageRow) -> UsageRow:
    a, b = first.tokens, second.tokens
    return replace(
        first,
        tokens=Tokens(
            input=a.input + b.input,
            cache_read=a.cache_read + b.cache_read,
            cache_write_5m=a.cache_write_5m + b.cache_write_5m,
            output=a.output + b.output,
        ),
        requests=first.requests + second.requests,
        source_cost=None
        if first.source_cost is None
        else first.source_cost + second.source_cost,
    )


def _require(columns: dict[str, str], table: Table, tool: str | None) -> None:
    for needed in ("date", "email"):
        if needed not in columns:
            raise ImportFileError(
                f"{table.origin}: no {needed} column ({COLUMNS[needed][0]})"
            )
    if "cost" not in columns and not {
        "input_tokens",
        "prompt_tokens",
        "output_tokens",
    } & set(columns):
        raise ImportFileError(
            f"{table.origin}: needs a cost_usd column or token columns"
        )
    if "tool" not in columns and not tool:
        raise ImportFileError(
            f"{table.origin}: has no tool column; name the tool with --tool NAME"
        )


def _cell(cells: dict[str, str], columns: dict[str, str], name: str) -> str:
    column = columns.get(name)
    return (cells.get(column) or "").strip() if column else ""


def _row(cells, columns, style, *, tool, line, report) -> UsageRow | None:
    where = f"line {line}"
    email = _cell(cells, columns, "email")
    if not email:
        report.reject(where, "no user email (a totals row?)")
        return None
    when = style.parse(_cell(cells, columns, "date"))
    day = when if not isinstance(when, datetime) else None
    occurred_at = when if isinstance(when, datetime) else None
    tool_name = _cell(cells, columns, "tool") or tool
    model = _cell(cells, columns, "model")
    tokens = _tokens(cells, columns)
    cost = parse_decimal(_cell(cells, columns, "cost"))
    requests = parse_count(_cell(cells, columns, "requests"))
    stamp = (day or occurred_at).isoformat() if (day or occurred_at) else ""
    key = _cell(cells, columns, "id") or "|".join(
        (stamp, email.lower(), tool_name, model)
    )
    return UsageRow(
        source_key=key,
        identity=email,
        tool=tool_name,
        model=model,
        day=day if isinstance(day, date) else None,
        occurred_at=occurred_at,
        tokens=tokens,
        requests=1 if requests is None else requests,
        source_cost=cost,
        location=where,
    )


def _tokens(cells, columns) -> Tokens:
    def count(name: str) -> int:
        return parse_count(_cell(cells, columns, name)) or 0

    cache_read, cache_write = count("cache_read"), count("cache_write")
    uncached = count("input_tokens")
    if "prompt_tokens" in columns and "input_tokens" not in columns:
        uncached = count("prompt_tokens") - cache_read - cache_write
        if uncached < 0:
            raise BadValue("prompt_tokens is smaller than its cache tokens")
    return Tokens(
        input=uncached,
        cache_read=cache_read,
        cache_write_5m=cache_write,
        output=count("output_tokens"),
    )
