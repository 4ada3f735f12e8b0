"""Pulling a window of days from a vendor API: slices, transactions, watermark.

A pull covers whole days ``[start, end)``. It is cut into slices; each slice
is fetched to its last page first and only then written, in one
transaction that replaces what the source had stored for those days. A
failure while fetching stores nothing of that slice and is noted on the
source's state; slices already written stay, and the watermark says how far
the source is complete, so the next pull carries on from there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from usage.db import session_scope
from usage.errors import UserError, describe
from usage.ingest import begin_write, price_table
from usage.models import BilledCost, OutputRecord, SourceState, UsageRecord, utcnow
from usage.settings import Settings, load_settings
from usage.sources.http import Clock
from usage.store import ImportReport, UsageWriter, record_source_error

logger = logging.getLogger(__name__)

# Vendors revise their latest buckets for a while; a pull from the watermark
# starts this many days before it.
REPULL_DAYS = 2
FIRST_PULL_DAYS = 30


@dataclass(frozen=True)
class Window:
    """Whole days ``[start, end)``."""

    start: date
    end: date

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{(self.end - timedelta(days=1)).isoformat()}"

    def slices(self, days: int) -> list[Window]:
        pieces, start = [], self.start
        while start < self.end:
            end = min(self.end, start + timedelta(days=days))
            pieces.append(Window(start, end))
            start = end
        return pieces

    def bounds(self, zone: tzinfo = UTC) -> tuple[datetime, datetime]:
        """The window's first and end instants, midnights in ``zone``."""
        return (
            datetime.combine(self.start, time(), zone),
            datetime.combine(self.end, time(), zone),
        )


def resolve_window(
    *,
    since: date | None,
    until: date | None,
    cursor: str | None,
    today: date,
    first_days: int = FIRST_PULL_DAYS,
) -> Window:
    """The days to pull: ``--since``/``--until`` (inclusive), else from the watermark."""
    end = (until or today) + timedelta(days=1)
    if since is None and cursor:
        since = date.fromisoformat(cursor) - timedelta(days=REPULL_DAYS)
    start = since or end - timedelta(days=first_days)
    if start >= end:
        raise UserError(
            f"--since {start.isoformat()} is after --until "
            f"{(end - timedelta(days=1)).isoformat()}; give an earlier --since"
        )
    return Window(start, end)


def merge_reports(
    source: str, origin: str, reports: list[ImportReport]
) -> ImportReport:
    """One report for a pull made of several slices."""
    total = ImportReport(source=source, origin=origin)
    for report in reports:
        for item in fields(ImportReport):
            if item.name in ("source", "origin"):
                continue
            mine, theirs = getattr(total, item.name), getattr(report, item.name)
            if isinstance(mine, int):
                setattr(total, item.name, mine + theirs)
            elif isinstance(mine, list):
                mine.extend(theirs)
            else:
                mine.update(theirs)
    return total


Fetch = Callable[[Window], Awaitable[Any]]
Store = Callable[["SliceContext", Any], Awaitable[None]]


@dataclass
class SliceContext:
    """What a source's store step gets for one slice, inside its transaction."""

    session: AsyncSession
    source: str
    window: Window
    settings: Settings
    report: ImportReport
    now: datetime

    async def writer(self) -> UsageWriter:
        """A usage writer for this slice; the slice's days are replaced."""
        writer = await UsageWriter.open(
            self.session,
            source=self.source,
            settings=self.settings,
            prices=await price_table(self.settings),
            report=self.report,
        )
        await writer.replace_window(self.window.start, self.window.end)
        return writer


@dataclass
class Pull:
    """One source's pull: how to fetch a slice and how to store it."""

    source: str
    origin: str
    fetch: Fetch
    store: Store
    slice_days: int = 31
    clock: Clock = utcnow

    async def run(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        since: date | None,
        until: date | None,
        zone: tzinfo = UTC,
    ) -> ImportReport:
        """Pull ``since..until`` (or from the watermark) slice by slice."""
        async with sessions() as session:
            state = await session.get(SourceState, self.source)
            cursor = state.cursor if state else None
        today = self.clock().astimezone(zone).date()
        window = resolve_window(since=since, until=until, cursor=cursor, today=today)
        reports = []
        for piece in window.slices(self.slice_days):
            reports.append(await self._slice(sessions, piece))
        return merge_reports(self.source, f"{self.origin} {window.label}", reports)

    async def _slice(self, sessions, window: Window) -> ImportReport:
        report = ImportReport(
            source=self.source, origin=f"{self.origin} {window.label}"
        )
        try:
            payload = await self.fetch(window)
            async with session_scope(sessions) as session:
                await begin_write(session)
                context = SliceContext(
                    session=session,
                    source=self.source,
                    window=window,
                    settings=await load_settings(session),
                    report=report,
                    now=self.clock(),
                )
                await self.store(context, payload)
                await _advance(session, self.source, window, now=context.now)
        except Exception as exc:
            reason = describe(exc)
            logger.warning("pull %s %s failed: %s", self.source, window.label, reason)
            try:
                async with session_scope(sessions) as session:
                    await record_source_error(
                        session, source=self.source, error=reason, now=self.clock()
                    )
            except Exception as inner:  # the database itself may be what failed
                logger.warning("could not record the failed pull: %s", describe(inner))
            raise
        return report


async def _advance(session: AsyncSession, source: str, window: Window, *, now) -> None:
    """Move the watermark to the slice's end and count what the source holds."""
    state = await session.get(SourceState, source)
    if state is None:
        state = SourceState(source=source, rows_total=0)
        session.add(state)
    previous = date.fromisoformat(state.cursor) if state.cursor else None
    state.cursor = max(filter(None, (previous, window.end))).isoformat()
    state.covered_from = min(filter(None, (state.covered_from, window.start)))
    last = window.end - timedelta(days=1)
    state.covered_to = max(filter(None, (state.covered_to, last)))
    state.last_success_at = now
    state.last_attempt_at = now
    state.last_error = None
    state.rows_total = await stored_rows(session, source)


async def stored_rows(session: AsyncSession, source: str) -> int:
    """Rows a source holds now (usage, output and billed costs)."""
    total = 0
    for table in (UsageRecord, OutputRecord, BilledCost):
        count = await session.execute(
            select(func.count()).select_from(table).where(table.source == source)
        )
        total += count.scalar_one()
    return total
