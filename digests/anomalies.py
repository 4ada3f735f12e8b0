"""Days far above their usual, with what drove them.

A day's usual is the median of the same weekday over the four weeks before
(weekly patterns, such as a bill that lands every Monday, are then usual too).
A day is an anomaly when it is over ``multiple`` times its usual and at least
``floor`` dollars above it. The driver is the tool, and within it the model,
whose spend grew the most against its own usual for that weekday.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from usage.models import SpendRollup
from usage.spend import Scope, first_usage_day

BASELINE_WEEKS = 4
MIN_BASELINE_POINTS = 2
MICROS = 1_000_000


@dataclass(frozen=True)
class Anomaly:
    day: date
    total_micros: int
    usual_micros: int
    tool: str
    tool_micros: int
    tool_usual_micros: int
    model: str
    model_micros: int
    incomplete: bool  # unpriced usage on the day: the real figure is higher

    @property
    def multiple(self) -> float:
        return self.total_micros / self.usual_micros if self.usual_micros else 0.0


async def _daily_lines(
    session: AsyncSession, scope: Scope, start: date, end: date
) -> dict[date, dict[tuple[str, str], tuple[int, int]]]:
    r = SpendRollup
    rows = await session.execute(
        select(
            r.day, r.tool, r.model, func.sum(r.cost_micros), func.sum(r.unpriced_tokens)
        )
        .where(
            r.scope_kind == scope.rollup_kind,
            r.scope_id.in_(scope.ids),
            r.day >= start,
            r.day < end,
        )
        .group_by(r.day, r.tool, r.model)
    )
    days: dict[date, dict[tuple[str, str], tuple[int, int]]] = defaultdict(dict)
    for day, tool, model, cost, unpriced in rows:
        days[day][(tool, model)] = (int(cost or 0), int(unpriced or 0))
    return days


def _usual(values: list[int]) -> int:
    return int(statistics.median(values)) if values else 0


async def find_anomalies(
    session: AsyncSession,
    *,
    scope: Scope,
    start: date,
    end: date,
    multiple: float,
    floor_usd: float,
    first_day: date | None = None,
) -> list[Anomaly]:
    """Anomalous days in [start, end) for ``scope``, in date order (``first_day``:
    the scope's first day with usage, when the caller has read it already)."""
    first = first_day or await first_usage_day(session, scope)
    if first is None:
        return []
    history_start = start - timedelta(weeks=BASELINE_WEEKS)
    days = await _daily_lines(session, scope, history_start, end)
    floor = int(float(floor_usd) * MICROS)
    found = []
    day = start
    while day < end:
        anomaly = _check_day(days, day, first, multiple, floor)
        if anomaly is not None:
            found.append(anomaly)
        day += timedelta(days=1)
    return found


def _check_day(days, day, first, multiple, floor) -> Anomaly | None:
    earlier = [
        day - timedelta(weeks=back)
        for back in range(1, BASELINE_WEEKS + 1)
        if day - timedelta(weeks=back) >= first
    ]
    if len(earlier) < MIN_BASELINE_POINTS:
        return None
    lines = days.get(day, {})
    total = sum(cost for cost, _ in lines.values())
    usual = _usual([sum(c for c, _ in days.get(d, {}).values()) for d in earlier])
    if total < floor + usual or total <= multiple * usual:
        return None
    tool, tool_now, tool_usual = _driver(days, day, earlier, lambda key: key[0])
    model, model_now, _ = _driver(
        days, day, earlier, lambda key: key[1], only=lambda key: key[0] == tool
    )
    return Anomaly(
        day=day,
        total_micros=total,
        usual_micros=usual,
        tool=tool,
        tool_micros=tool_now,
        tool_usual_micros=tool_usual,
        model=model,
        model_micros=model_now,
        incomplete=any(unpriced for _, unpriced in lines.values()),
    )


def _driver(days, day, earlier, name_of, only=lambda key: True):
    def per_name(d):
        sums: dict[str, int] = defaultdict(int)
        for key, (cost, _) in days.get(d, {}).items():
            if only(key):
                sums[name_of(key)] += cost
        return sums

    now = per_name(day)
    before = [per_name(d) for d in earlier]
    growth = {
        name: (cost, _usual([b.get(name, 0) for b in before]))
        for name, cost in now.items()
    }
    name = max(sorted(growth), key=lambda n: growth[n][0] - growth[n][1])
    return name, growth[name][0], growth[name][1]
