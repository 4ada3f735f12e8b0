"""Daily rollups per person, team, org and unattributed usage.

Answers read these instead of raw records, so one answer costs the same
whether the database holds a month or years. They are rebuilt for exactly
the days an import touched, inside the import's transaction. Records another
source is authoritative for (``counted`` false) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Integer, case, cast, delete, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from usage.models import OutputRecord, OutputRollup, Person, SpendRollup, UsageRecord

DAY_CHUNK = 400
_ROLLUP_LOCK = 727_274_001  # advisory lock id for rollup rebuilds on PostgreSQL

_SPEND_SUMS = (
    "cost_micros",
    "requests",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "long_context_tokens",
    "unpriced_tokens",
    "unpriced_requests",
)


def _chunks(days: Iterable[date]) -> Iterable[list[date]]:
    ordered = sorted(set(days))
    for start in range(0, len(ordered), DAY_CHUNK):
        yield ordered[start : start + DAY_CHUNK]


async def lock_rollups(session: AsyncSession) -> None:
    """Serialise rollup rebuilds across processes on PostgreSQL (SQLite serialises writes)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ROLLUP_LOCK}
        )


def _record_sums() -> list:
    r = UsageRecord
    total = (
        r.input_tokens
        + r.cache_read_tokens
        + r.cache_write_5m_tokens
        + r.cache_write_1h_tokens
        + r.output_tokens
    )
    unpriced = r.cost_micros.is_(None)
    return [
        func.sum(func.coalesce(r.cost_micros, 0)),
        func.sum(r.requests),
        func.sum(r.input_tokens),
        func.sum(r.cache_read_tokens),
        func.sum(r.cache_write_5m_tokens + r.cache_write_1h_tokens),
        func.sum(r.output_tokens),
        func.sum(case((r.long_context, total), else_=0)),
        func.sum(case((unpriced, total), else_=0)),
        func.sum(case((unpriced, r.requests), else_=0)),
    ]


def _rollup_sums() -> list:
    return [func.sum(getattr(SpendRollup, name)) for name in _SPEND_SUMS]


async def rebuild_days(session: AsyncSession, days: Iterable[date]) -> None:
    """Recompute every scope's spend and output rollups for ``days``."""
    await lock_rollups(session)
    for chunk in _chunks(days):
        await _rebuild_spend(session, chunk)
        await _rebuild_output(session, chunk)


async def _rebuild_spend(session: AsyncSession, days: list[date]) -> None:
    r, s = UsageRecord, SpendRollup
    columns = ["scope_kind", "scope_id", "day", "tool", "model", *_SPEND_SUMS]
    await session.execute(delete(s).where(s.day.in_(days)))
    people = (
        select(
            literal("person"), r.person_id, r.day, r.tool, r.model_key, *_record_sums()
        )
        .where(r.day.in_(days), r.person_id.is_not(None), r.counted)
        .group_by(r.person_id, r.day, r.tool, r.model_key)
    )
    nobody = (
        select(
            literal("unattributed"),
            cast(literal(0), Integer),
            r.day,
            r.tool,
            r.model_key,
            *_record_sums(),
        )
        .where(r.day.in_(days), r.person_id.is_(None), r.counted)
        .group_by(r.day, r.tool, r.model_key)
    )
    await session.execute(insert(s).from_select(columns, people))
    await session.execute(insert(s).from_select(columns, nobody))
    await _derive_team_spend(session, days)
    org = (
        select(
            literal("org"),
            cast(literal(0), Integer),
            s.day,
            s.tool,
            s.model,
            *_rollup_sums(),
        )
        .where(s.day.in_(days), s.scope_kind.in_(("person", "unattributed")))
        .group_by(s.day, s.tool, s.model)
    )
    await session.execute(insert(s).from_select(columns, org))


async def _derive_team_spend(session: AsyncSession, days: list[date] | None) -> None:
    s = SpendRollup
    columns = ["scope_kind", "scope_id", "day", "tool", "model", *_SPEND_SUMS]
    query = (
        select(literal("team"), Person.team_id, s.day, s.tool, s.model, *_rollup_sums())
        .join(Person, Person.id == s.scope_id)
        .where(s.scope_kind == "person", Person.team_id.is_not(None))
        .group_by(Person.team_id, s.day, s.tool, s.model)
    )
    if days is not None:
        query = query.where(s.day.in_(days))
    await session.execute(insert(s).from_select(columns, query))


async def _rebuild_output(session: AsyncSession, days: list[date]) -> None:
    o, t = OutputRecord, OutputRollup
    columns = ["scope_kind", "scope_id", "day", "metric", "value"]
    await session.execute(delete(t).where(t.day.in_(days)))
    people = (
        select(literal("person"), o.person_id, o.day, o.metric, func.sum(o.value))
        .where(o.day.in_(days), o.person_id.is_not(None))
        .group_by(o.person_id, o.day, o.metric)
    )
    nobody = (
        select(
            literal("unattributed"),
            cast(literal(0), Integer),
            o.day,
            o.metric,
            func.sum(o.value),
        )
        .where(o.day.in_(days), o.person_id.is_(None))
        .group_by(o.day, o.metric)
    )
    await session.execute(insert(t).from_select(columns, people))
    await session.execute(insert(t).from_select(columns, nobody))
    await _derive_team_output(session, days)
    org = (
        select(
            literal("org"),
            cast(literal(0), Integer),
            t.day,
            t.metric,
            func.sum(t.value),
        )
        .where(t.day.in_(days), t.scope_kind.in_(("person", "unattributed")))
        .group_by(t.day, t.metric)
    )
    await session.execute(insert(t).from_select(columns, org))


async def _derive_team_output(session: AsyncSession, days: list[date] | None) -> None:
    t = OutputRollup
    query = (
        select(literal("team"), Person.team_id, t.day, t.metric, func.sum(t.value))
        .join(Person, Person.id == t.scope_id)
        .where(t.scope_kind == "person", Person.team_id.is_not(None))
        .group_by(Person.team_id, t.day, t.metric)
    )
    if days is not None:
        query = query.where(t.day.in_(days))
    columns = ["scope_kind", "scope_id", "day", "metric", "value"]
    await session.execute(insert(t).from_select(columns, query))


async def rebuild_teams(session: AsyncSession) -> None:
    """Recompute team rollups from people's, after the directory changed."""
    await lock_rollups(session)
    await session.execute(delete(SpendRollup).where(SpendRollup.scope_kind == "team"))
    await session.execute(delete(OutputRollup).where(OutputRollup.scope_kind == "team"))
    await _derive_team_spend(session, None)
    await _derive_team_output(session, None)


async def rebuild_all(session: AsyncSession) -> None:
    """Recompute every rollup from the raw records (after a time-zone change)."""
    days = set((await session.execute(select(UsageRecord.day).distinct())).scalars())
    days |= set((await session.execute(select(OutputRecord.day).distinct())).scalars())
    await session.execute(delete(SpendRollup))
    await session.execute(delete(OutputRollup))
    await rebuild_days(session, days)
