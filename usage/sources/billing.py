"""Vendor cost reports: billed totals per day and scope, kept for reconciliation.

A cost report says what the vendor billed; it is never added to spend (the
per-person usage is). Each re-pulled day replaces what was stored for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from usage.models import BilledCost
from usage.pricing import to_micros
from usage.sources.http import Clock
from usage.sources.pull import Pull, SliceContext, Window
from usage.sources.tabular import BadValue
from usage.store import ImportReport

Amount = Callable[[Mapping], Decimal]
DayBuckets = Callable[
    [list[dict], Window, ImportReport], Iterable[tuple[date, Mapping]]
]


def billed_totals(
    days: Iterable[tuple[date, Mapping]],
    *,
    amount: Amount,
    scope_field: str,
    report: ImportReport,
) -> dict[tuple[date, str], Decimal]:
    """Billed dollars per (day, scope); bad or negative amounts are reported, not summed."""
    totals: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for day, bucket in days:
        for index, result in enumerate(bucket.get("results") or []):
            report.rows_read += 1
            location = f"bucket {day} result {index + 1}"
            try:
                value = amount(result)
            except BadValue as exc:
                report.reject(location, str(exc))
                continue
            if value < 0:
                report.reject(location, "negative amount; spend is never reduced")
                continue
            totals[(day, result.get(scope_field) or "default")] += value
    return totals


async def store_billed(
    session: AsyncSession,
    *,
    source: str,
    tool: str,
    window: Window,
    totals: dict[tuple[date, str], Decimal],
    report: ImportReport,
) -> None:
    """Replace a cost report's billed figures for the window's days."""
    await session.execute(
        delete(BilledCost).where(
            BilledCost.source == source,
            BilledCost.day >= window.start,
            BilledCost.day < window.end,
        )
    )
    session.add_all(
        BilledCost(
            source=source,
            tool=tool,
            day=day,
            scope=scope[:200],
            cost_micros=to_micros(value),
        )
        for (day, scope), value in sorted(totals.items())
    )
    report.imported += len(totals)


async def pull_costs(
    sessions: async_sessionmaker[AsyncSession],
    *,
    source: str,
    tool: str,
    origin: str,
    fetch: Callable[[Window], Awaitable[list[dict]]],
    days: DayBuckets,
    amount: Amount,
    scope_field: str,
    since: date | None,
    until: date | None,
    clock: Clock,
    slice_days: int,
) -> ImportReport:
    """Pull a cost report window by window into ``billed_costs``."""

    async def store(context: SliceContext, buckets: list[dict]) -> None:
        totals = billed_totals(
            days(buckets, context.window, context.report),
            amount=amount,
            scope_field=scope_field,
            report=context.report,
        )
        await store_billed(
            context.session,
            source=source,
            tool=tool,
            window=context.window,
            totals=totals,
            report=context.report,
        )

    pull = Pull(
        source=source,
        origin=origin,
        fetch=fetch,
        store=store,
        slice_days=slice_days,
        clock=clock,
    )
    return await pull.run(sessions, since=since, until=until)
