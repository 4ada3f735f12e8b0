"""Reading back what was stored, per person and ISO week, next to expected.json."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select

from tests.conftest import NORTHWIND
from usage.models import OutputRollup, Person, SpendRollup, UsageRecord
from usage.pricing import to_micros
from usage.reconcile import iso_week

EXPECTED = json.loads((NORTHWIND / "expected.json").read_text("utf-8"))
OUTPUT_METRICS = (
    "prs_merged",
    "claude_code_commits",
    "claude_code_prs",
    "claude_code_sessions",
    "lines_added",
)


def micros(text: str) -> int:
    return to_micros(Decimal(text))


def expected_spend(tools) -> dict[tuple[str, str, str], int]:
    """(email, week, tool) -> micro-dollars from expected.json, for ``tools``."""
    found = {}
    for week, figures in EXPECTED["weeks"].items():
        for email, person in figures["people"].items():
            for tool, amount in person["by_tool"].items():
                if tool in tools:
                    found[(email, week, tool)] = micros(amount)
    return found


def expected_output() -> dict[tuple[str, str, str], int]:
    found = {}
    for week, figures in EXPECTED["weeks"].items():
        for email, person in figures["people"].items():
            for metric, value in person["output"].items():
                if metric in OUTPUT_METRICS and value:
                    found[(email, week, metric)] = value
    return found


async def _emails(session) -> dict[int, str]:
    return dict((await session.execute(select(Person.id, Person.email))).all())


async def spend_by_person_week(sessions, tools) -> dict[tuple[str, str, str], int]:
    """(email, week, tool) -> micro-dollars from the person-scope rollups."""
    async with sessions() as session:
        emails = await _emails(session)
        rows = await session.execute(
            select(
                SpendRollup.scope_id,
                SpendRollup.day,
                SpendRollup.tool,
                SpendRollup.cost_micros,
            ).where(SpendRollup.scope_kind == "person", SpendRollup.tool.in_(tools))
        )
        found: dict[tuple[str, str, str], int] = defaultdict(int)
        for person_id, day, tool, cost in rows:
            found[(emails[person_id], iso_week(day)[0], tool)] += cost
    return dict(found)


async def output_by_person_week(sessions, metrics=OUTPUT_METRICS):
    async with sessions() as session:
        emails = await _emails(session)
        rows = await session.execute(
            select(
                OutputRollup.scope_id,
                OutputRollup.day,
                OutputRollup.metric,
                OutputRollup.value,
            ).where(
                OutputRollup.scope_kind == "person", OutputRollup.metric.in_(metrics)
            )
        )
        found: dict[tuple[str, str, str], int] = defaultdict(int)
        for person_id, day, metric, value in rows:
            found[(emails[person_id], iso_week(day)[0], metric)] += value
    return {key: value for key, value in found.items() if value}


async def scope_total(sessions, scope: str, tool: str | None = None) -> int:
    async with sessions() as session:
        query = select(func.coalesce(func.sum(SpendRollup.cost_micros), 0)).where(
            SpendRollup.scope_kind == scope
        )
        if tool:
            query = query.where(SpendRollup.tool == tool)
        return (await session.execute(query)).scalar_one()


async def records(sessions, source: str) -> list[UsageRecord]:
    async with sessions() as session:
        rows = await session.execute(
            select(UsageRecord).where(UsageRecord.source == source)
        )
        return list(rows.scalars())
