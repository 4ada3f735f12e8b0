"""Billed vs attributed: what a vendor's cost report bills against what reached people.

Per ISO week (days in the reporting zone), for one tool: the billed total
from ``billed_costs``, the part of the counted spend attributed to people,
and the unattributed part. The gap is what no usage report explains.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from usage.models import BilledCost, SpendRollup


@dataclass(frozen=True)
class WeekReconciliation:
    week: str  # ISO week, such as 2026-W45
    start: date  # its Monday
    billed_micros: int | None  # None: no cost report covers the week
    attributed_micros: int
    unattributed_micros: int

    @property
    def usage_micros(self) -> int:
        return self.attributed_micros + self.unattributed_micros

    @property
    def gap_micros(self) -> int | None:
        """Billed minus what the usage explains; None when nothing was billed."""
        if self.billed_micros is None:
            return None
        return self.billed_micros - self.usage_micros


def iso_week(day: date) -> tuple[str, date]:
    year, week, weekday = day.isocalendar()
    return f"{year}-W{week:02d}", day - timedelta(days=weekday - 1)


async def reconcile_by_week(
    session: AsyncSession, *, tool: str, start: date, end: date
) -> list[WeekReconciliation]:
    """Billed vs attributed spend of ``tool`` per ISO week, for days ``[start, end)``."""
    billed = await session.execute(
        select(BilledCost.day, func.sum(BilledCost.cost_micros))
        .where(BilledCost.tool == tool, BilledCost.day >= start, BilledCost.day < end)
        .group_by(BilledCost.day)
    )
    spend = await session.execute(
        select(
            SpendRollup.day, SpendRollup.scope_kind, func.sum(SpendRollup.cost_micros)
        )
        .where(
            SpendRollup.tool == tool,
            SpendRollup.scope_kind.in_(("person", "unattributed")),
            SpendRollup.day >= start,
            SpendRollup.day < end,
        )
        .group_by(SpendRollup.day, SpendRollup.scope_kind)
    )
    weeks: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    mondays: dict[str, date] = {}
    for day, amount in billed:
        label, mondays[label] = iso_week(day)
        weeks[label]["billed"] += int(amount or 0)
        weeks[label]["has_bill"] = 1
    for day, scope, amount in spend:
        label, mondays[label] = iso_week(day)
        weeks[label][scope] += int(amount or 0)
    return [
        WeekReconciliation(
            week=label,
            start=mondays[label],
            billed_micros=figures["billed"] if figures["has_bill"] else None,
            attributed_micros=figures["person"],
            unattributed_micros=figures["unattributed"],
        )
        for label, figures in sorted(weeks.items())
    ]


async def billed_tools(session: AsyncSession) -> list[str]:
    """Tools that have a cost report stored."""
    rows = await session.execute(select(BilledCost.tool).distinct())
    return sorted(rows.scalars())
