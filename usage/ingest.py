"""Import entry points: read a source, write it in one transaction, return the report."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from usage.db import session_scope
from usage.models import SourceState
from usage.pricing import PriceTable, load_price_table
from usage.settings import Settings, load_settings
from usage.sources import litellm, spreadsheet
from usage.sources.tabular import read_table, stream_table
from usage.store import ImportReport, UsageWriter

CHUNK = 5000


def batched(items, size: int):
    """Lists of up to ``size`` items (itertools.batched arrives in Python 3.12)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


async def begin_write(session: AsyncSession) -> None:
    """Take SQLite's write lock up front, so a read-then-write transaction never
    fails half-way when another process writes in between."""
    if session.bind.dialect.name == "sqlite":
        await session.execute(text("BEGIN IMMEDIATE"))


async def price_table(settings: Settings) -> PriceTable:
    """The price table the settings name, or the built-in one."""
    return load_price_table(settings.path("pricing.price_table"))


async def _writer(session, *, source, settings, report) -> UsageWriter:
    return await UsageWriter.open(
        session,
        source=source,
        settings=settings,
        prices=await price_table(settings),
        report=report,
    )


async def ingest_spreadsheet(
    sessions: async_sessionmaker[AsyncSession], *, path: Path, tool: str | None
) -> ImportReport:
    table = read_table(path)
    async with sessions() as session:
        await begin_write(session)
        settings = await load_settings(session)
        report = ImportReport(source=spreadsheet.SOURCE, origin=table.origin)
        rows = spreadsheet.read_rows(table, tool=tool, report=report)
        writer = await _writer(
            session, source=spreadsheet.SOURCE, settings=settings, report=report
        )
        await writer.add_usage(rows, replace=True)
        await writer.finish()
        await session.commit()
    return report


async def ingest_litellm_file(
    sessions: async_sessionmaker[AsyncSession], *, path: Path
) -> ImportReport:
    """Import a spend-log export of any size, a chunk of rows at a time, in one transaction."""
    table = stream_table(path)
    report = ImportReport(source=litellm.SOURCE, origin=table.origin)
    try:
        rows = litellm.read_export(table, report=report)
        async with sessions() as session:
            await begin_write(session)
            settings = await load_settings(session)
            writer = await _writer(
                session, source=litellm.SOURCE, settings=settings, report=report
            )
            for chunk in batched(rows, CHUNK):
                await writer.add_usage(chunk)
            await writer.finish()
            await session.commit()
    finally:
        table.close()
    return report


async def ingest_litellm_database(
    sessions: async_sessionmaker[AsyncSession], *, dsn: str, since: datetime | None
) -> ImportReport:
    """Pull new spend-log rows from the proxy's database, from the stored watermark."""
    report = ImportReport(source=litellm.SOURCE, origin="LiteLLM database")
    async with session_scope(sessions) as session:
        await begin_write(session)
        settings = await load_settings(session)
        state = await session.get(SourceState, litellm.SOURCE)
        if since is None and state is not None and state.cursor:
            since = datetime.fromisoformat(state.cursor) - litellm.WATERMARK_OVERLAP
        since = since or datetime(1970, 1, 1, tzinfo=UTC)
        writer = await _writer(
            session, source=litellm.SOURCE, settings=settings, report=report
        )
        newest: datetime | None = None
        batch = []
        async for values in litellm.stream_database(dsn, since=since):
            report.rows_read += 1
            row = litellm.read_row(
                values, location=f"request {values.get('request_id')}", report=report
            )
            if row is None:
                continue
            newest = max(filter(None, (newest, row.occurred_at)))
            batch.append(row)
            if len(batch) >= CHUNK:
                await writer.add_usage(batch)
                batch = []
        await writer.add_usage(batch)
        await writer.finish()
        state = await session.get(SourceState, litellm.SOURCE)
        if newest is not None:
            previous = datetime.fromisoformat(state.cursor) if state.cursor else None
            state.cursor = max(filter(None, (previous, newest))).isoformat()
    return report
