"""``aispend ingest litellm``: LiteLLM proxy spend logs, from a CSV export of
``LiteLLM_SpendLogs`` or straight from the proxy's PostgreSQL database.

One row per request, deduplicated on ``request_id``. ``prompt_tokens``
includes cache reads and writes; where the cache counts are known they are
taken out before pricing. A row's own ``spend`` wins, except a zero or blank
spend with tokens (streamed requests are logged that way), which is priced.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from usage.errors import ImportFileError
from usage.pricing import Tokens
from usage.sources.tabular import (
    BadValue,
    Table,
    iter_blank,
    parse_count,
    parse_decimal,
    parse_instant_or_date,
    resolve_columns,
)
from usage.store import ImportReport, UsageRow

SOURCE = "litellm"
TOOL = "api-gateway"
# Rows can land in the proxy's table a little after their start time.
WATERMARK_OVERLAP = timedelta(hours=2)

COLUMNS: dict[str, tuple[str, ...]] = {
    "request_id": ("request_id", "id"),
    "start": ("starttime", "start_time"),
    "model": ("model",),
    "user": ("user", "user_email"),
    "end_user": ("end_user",),
    "spend": ("spend",),
    "prompt": ("prompt_tokens",),
    "completion": ("completion_tokens",),
    "cache_read": ("cache_read_input_tokens",),
    "cache_write": ("cache_creation_input_tokens",),
    "status": ("status",),
    "metadata": ("metadata",),
}
IGNORED = (
    "call_type",
    "endtime",
    "end_time",
    "completionstarttime",
    "custom_llm_provider",
    "model_group",
    "model_id",
    "team_id",
    "total_tokens",
    "api_key",
    "api_base",
    "request_tags",
    "session_id",
    "cache_hit",
    "cache_key",
    "requester_ip_address",
    "messages",
    "response",
    "proxy_server_request",
    "organization_id",
    "mcp_namespaced_tool_name",
    "agent_id",
)

SELECT_SQL = """
SELECT request_id, "startTime" AS start, model, "user" AS user, end_user, spend,
       prompt_tokens AS prompt, completion_tokens AS completion, status,
       metadata::text AS metadata
FROM "LiteLLM_SpendLogs"
WHERE "startTime" >= %(since)s
ORDER BY "startTime"
"""


def read_export(table: Table, *, report: ImportReport) -> Iterator[UsageRow]:
    """Rows of a ``LiteLLM_SpendLogs`` CSV export, read lazily."""
    columns = resolve_columns(table, COLUMNS, ignored=IGNORED)
    for needed in ("request_id", "start", "model", "user", "spend"):
        if needed not in columns:
            raise ImportFileError(
                f"{table.origin}: no {COLUMNS[needed][0]} column; is this a "
                "LiteLLM_SpendLogs export?"
            )
    return _export_rows(table, columns, report)


def _export_rows(table: Table, columns: dict[str, str], report: ImportReport):
    for line, cells in table.rows:
        report.rows_read += 1
        if iter_blank(cells):
            report.blank += 1
            continue
        values = {name: cells.get(column, "") for name, column in columns.items()}
        row = read_row(values, location=f"line {line}", report=report)
        if row is not None:
            yield row


def read_row(
    values: Mapping[str, object], *, location: str, report: ImportReport
) -> UsageRow | None:
    """One spend-log row, from a CSV line or a database row; None if rejected."""
    try:
        return _row(values, location=location, report=report)
    except BadValue as exc:
        report.reject(location, str(exc))
        return None


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _count(
    values: Mapping[str, object], name: str, *, location: str, report: ImportReport
):
    raw = values.get(name)
    if isinstance(raw, int):
        return raw
    text = _text(raw)
    if not text and name in ("prompt", "completion") and raw is not None:
        report.flag(location, f"{COLUMNS[name][0]} is blank; read as 0")
    return parse_count(text) or 0


def _row(
    values: Mapping[str, object], *, location: str, report: ImportReport
) -> UsageRow | None:
    request_id = _text(values.get("request_id"))
    if not request_id:
        raise BadValue("no request_id")
    start = values.get("start")
    started = (
        start if isinstance(start, datetime) else parse_instant_or_date(_text(start))
    )
    if not isinstance(started, datetime):
        raise BadValue(f"startTime {_text(start)!r} has no time of day")
    identity = _text(values.get("user")) or _text(values.get("end_user"))
    if not identity:
        identity = _metadata_email(values.get("metadata")) or "unknown"
    spend_raw = values.get("spend")
    spend = (
        spend_raw if isinstance(spend_raw, Decimal) else parse_decimal(_text(spend_raw))
    )
    if isinstance(spend_raw, float):
        spend = Decimal(repr(spend_raw))
    prompt = _count(values, "prompt", location=location, report=report)
    cache_read = _count(values, "cache_read", location=location, report=report)
    cache_write = _count(values, "cache_write", location=location, report=report)
    completion = _count(values, "completion", location=location, report=report)
    if min(prompt, completion, cache_read, cache_write) < 0:
        raise BadValue("negative token count; spend is never reduced")
    uncached = prompt - cache_read - cache_write
    if uncached < 0:
        raise BadValue("prompt_tokens is smaller than its cache tokens")
    status = _text(values.get("status")).lower()
    return UsageRow(
        source_key=request_id,
        identity=identity,
        identity_kind="email" if "@" in identity else "litellm_user",
        tool=TOOL,
        model=_text(values.get("model")) or "unknown",
        occurred_at=started,
        tokens=Tokens(
            input=uncached,
            cache_read=cache_read,
            cache_write_5m=cache_write,
            output=completion,
        ),
        source_cost=spend,
        # A failed request is billed what the proxy says, never priced from tokens.
        price_from_tokens=status in ("", "success"),
        location=location,
    )


def _metadata_email(metadata: object) -> str:
    if not metadata:
        return ""
    try:
        data = json.loads(metadata) if isinstance(metadata, str) else metadata
    except ValueError:
        return ""
    if isinstance(data, dict):
        return _text(
            data.get("user_api_key_user_email") or data.get("user_api_key_user_id")
        )
    return ""


async def stream_database(dsn: str, *, since: datetime) -> AsyncIterator[dict]:
    """Rows of ``LiteLLM_SpendLogs`` from the proxy's database, oldest first."""
    import psycopg
    from psycopg.rows import dict_row

    try:
        connection = await psycopg.AsyncConnection.connect(dsn, row_factory=dict_row)
    except psycopg.Error as exc:
        raise ImportFileError(
            f"cannot connect to the LiteLLM database: {exc}".splitlines()[0]
        ) from exc
    async with connection, connection.cursor(name="aispend_spendlogs") as cursor:
        try:
            await cursor.execute(SELECT_SQL, {"since": since})
        except psycopg.errors.UndefinedTable as exc:
            raise ImportFileError(
                'the database has no "LiteLLM_SpendLogs" table; is it the proxy\'s?'
            ) from exc
        async for row in cursor:
            yield row
