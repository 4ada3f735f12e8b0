"""A synthetic organisation of N people over D days, from one seed.

People sit in teams of about twenty under divisions under one root. Each uses
two or three tools with their models on working days; a few are heavy users
and a few have spiky weeks; merged PRs come with the work. Rows go through the
same writer as every source, so pricing, attribution and rollups are real.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from usage.ingest import begin_write
from usage.models import OutputRecord, Person, Team, UsageRecord
from usage.pricing import PriceTable, Tokens
from usage.rollups import rebuild_all
from usage.store import OutputRow, UsageRow

TEAM_SIZE = 20
TEAMS_PER_DIVISION = 50
TOOLS = {
    "api-gateway": ("claude-sonnet-4-5", "claude-haiku-4-5", "gpt-5-mini"),
    "claude-code": ("claude-sonnet-4-5", "claude-opus-4-5"),
    "cursor": ("gpt-5", "claude-sonnet-4-5"),
    "openai-api": ("gpt-5", "gpt-5-mini"),
    "vertex-ai": ("gemini-2.5-pro", "gemini-2.5-flash"),
}
DAYS_PER_WRITE = 14


@dataclass(frozen=True)
class Org:
    people: int
    days: int
    end: date  # the day after the last day with data
    seed: int = 7

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days)

    def email(self, index: int) -> str:
        return f"person{index:06d}@bench.example"


def _team_layout(org: Org) -> tuple[list[tuple[int, str, int | None]], dict[int, int]]:
    """(id, name, parent) for every team, and each person's team id."""
    teams = [(1, "company", None)]
    team_count = max(1, math.ceil(org.people / TEAM_SIZE))
    divisions = max(1, math.ceil(team_count / TEAMS_PER_DIVISION))
    for d in range(divisions):
        teams.append((2 + d, f"division-{d:03d}", 1))
    first_team = 2 + divisions
    for t in range(team_count):
        teams.append((first_team + t, f"team-{t:04d}", 2 + t // TEAMS_PER_DIVISION))
    membership = {p: first_team + p // TEAM_SIZE for p in range(org.people)}
    return teams, membership


async def write_directory(session: AsyncSession, org: Org) -> None:
    teams, membership = _team_layout(org)
    leaders = {team_id: None for team_id, _, _ in teams}
    for person, team_id in membership.items():
        if leaders[team_id] is None:
            leaders[team_id] = person
    division_leader = {}
    for team_id, _, parent in teams:
        if parent and parent != 1 and division_leader.get(parent) is None:
            division_leader[parent] = leaders[team_id]
    team_rows = []
    for team_id, name, parent in teams:
        leader = leaders.get(team_id)
        if parent == 1 or parent is None:
            leader = division_leader.get(team_id, 0) if parent == 1 else 0
        team_rows.append(
            {
                "id": team_id,
                "name": name,
                "parent_id": parent,
                "manager_email": org.email(leader) if leader is not None else None,
                "monthly_budget_micros": _budget(team_id, parent, teams),
                "timezone": "UTC",
            }
        )
    await session.execute(insert(Team.__table__), team_rows)
    people = []
    for person, team_id in membership.items():
        role = (
            "admin"
            if person == 1
            else ("manager" if leaders[team_id] == person else "member")
        )
        people.append(
            {
                "id": person + 1,
                "email": org.email(person),
                "name": f"Person {person}",
                "team_id": team_id,
                "manager_id": (leaders[team_id] + 1)
                if leaders[team_id] != person
                else None,
                "slack_user_id": f"UB{person:07d}",
                "github_login": f"gh{person}",
                "timezone": ("America/New_York", "Europe/Berlin", "Asia/Kolkata")[
                    person % 3
                ],
                "role": role,
                "active": True,
            }
        )
    for start in range(0, len(people), 5000):
        await session.execute(insert(Person.__table__), people[start : start + 5000])


def _budget(team_id: int, parent: int | None, teams) -> int:
    if parent is None:
        return 5_000 * 1_000_000 * len(teams)
    if parent == 1:
        return 200_000 * 1_000_000
    return 5_000 * 1_000_000


def person_days(
    org: Org, person: int
) -> Iterator[tuple[date, list[tuple[str, str, float]]]]:
    """For one person: each working day with (tool, model, scale) usage."""
    rng = random.Random(org.seed * 1_000_003 + person)
    intensity = rng.lognormvariate(0, 0.7) * (6 if rng.random() < 0.02 else 1)
    spiky = rng.random() < 0.05
    tools = rng.sample(sorted(TOOLS), rng.choice((2, 3)))
    day = org.start
    while day < org.end:
        if day.weekday() < 5 or rng.random() < 0.05:
            spike = 5.0 if spiky and day.isocalendar().week % 9 == person % 9 else 1.0
            lines = []
            for tool in tools:
                for model in TOOLS[tool][: rng.choice((1, 2))]:
                    lines.append(
                        (tool, model, intensity * spike * rng.uniform(0.3, 1.7))
                    )
            yield day, lines
        day += timedelta(days=1)


def usage_rows(org: Org, person: int, start: date, end: date) -> Iterator[UsageRow]:
    email = org.email(person)
    for day, lines in person_days(org, person):
        if not start <= day < end:
            continue
        for tool, model, scale in lines:
            base = int(200_000 * scale)
            yield UsageRow(
                source_key=f"{email}|{day}|{tool}|{model}",
                identity=email,
                tool=tool,
                model=model,
                day=day,
                tokens=Tokens(
                    input=base,
                    cache_read=base * 3,
                    cache_write_5m=base // 8,
                    output=base // 10,
                ),
                requests=max(1, int(20 * scale)),
                long_context=False,
            )


def output_rows(org: Org, person: int, start: date, end: date) -> Iterator[OutputRow]:
    rng = random.Random(org.seed * 7_919 + person)
    email = org.email(person)
    day = org.start
    while day < org.end:
        merged = sum(1 for _ in range(3) if rng.random() < 0.2)
        if merged and day.weekday() < 5 and start <= day < end:
            yield OutputRow(
                f"{email}|{day}|prs", f"gh{person}", day, "prs_merged", merged, "github"
            )
        day += timedelta(days=1)


USAGE_COLUMNS = (
    "source",
    "source_key",
    "tool",
    "person_id",
    "identity_kind",
    "identity",
    "day",
    "model",
    "model_key",
    "tier",
    "long_context",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "requests",
    "cost_micros",
    "cost_origin",
    "counted",
    "imported_at",
)
OUTPUT_COLUMNS = (
    "source",
    "source_key",
    "person_id",
    "identity_kind",
    "identity",
    "day",
    "metric",
    "value",
)
BULK_ROWS = 50_000


def _unit_costs(prices: PriceTable) -> dict[str, float]:
    """Micro-dollars per unit of the generator's token mix, per model."""
    unit = 1_000_000
    tokens = Tokens(
        input=unit, cache_read=unit * 3, cache_write_5m=unit // 8, output=unit // 10
    )
    return {
        model: float(prices.cost(model, tokens, long_context=False)) * 1_000_000 / unit
        for models in TOOLS.values()
        for model in models
    }


def _usage_tuples(org: Org, person: int, unit_costs: dict[str, float], now: datetime):
    email = org.email(person)
    for day, lines in person_days(org, person):
        for tool, model, scale in lines:
            base = int(200_000 * scale)
            yield (
                "bench",
                f"{email}|{day}|{tool}|{model}",
                tool,
                person + 1,
                "email",
                email,
                day,
                model,
                model,
                "standard",
                False,
                base,
                base * 3,
                base // 8,
                0,
                base // 10,
                max(1, int(20 * scale)),
                int(unit_costs[model] * base),
                "computed",
                True,
                now,
            )


def _output_tuples(org: Org, person: int):
    for row in output_rows(org, person, org.start, org.end):
        yield (
            "bench",
            row.source_key,
            person + 1,
            "github",
            row.identity,
            row.day,
            row.metric,
            row.value,
        )


async def bulk_insert(
    engine, table: str, columns: tuple[str, ...], rows: list[tuple]
) -> None:
    """Write plain tuples as fast as each backend takes them: ``COPY`` on
    PostgreSQL, one ``executemany`` on SQLite."""
    if not rows:
        return
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            raw = (await connection.get_raw_connection()).driver_connection
            statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            async with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    await copy.write_row(row)
            return
        marks = ", ".join("?" for _ in columns)
        await connection.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
        )


async def fill(engine, org: Org, *, prices: PriceTable) -> int:
    """Write the organisation straight into the tables, then build every rollup
    with the same code an import uses; returns the number of usage rows.

    Rows skip the per-row import path here (its speed is measured by the
    import benchmark) so that a year of 10,000 people builds in minutes.
    """
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        await begin_write(session)
        await write_directory(session, org)
        await session.commit()
    unit_costs = _unit_costs(prices)
    # Indexes are built once after the rows are in, not row by row.
    indexes = [*UsageRecord.__table__.indexes, *OutputRecord.__table__.indexes]
    async with engine.begin() as connection:
        for index in indexes:
            await connection.run_sync(index.drop)
    now = datetime.now(UTC)
    if engine.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    written, usage, output = 0, [], []
    for person in range(org.people):
        usage.extend(_usage_tuples(org, person, unit_costs, now))
        output.extend(_output_tuples(org, person))
        if len(usage) >= BULK_ROWS:
            await bulk_insert(engine, "usage_records", USAGE_COLUMNS, usage)
            written += len(usage)
            usage = []
        if len(output) >= BULK_ROWS:
            await bulk_insert(engine, "output_records", OUTPUT_COLUMNS, output)
            output = []
    await bulk_insert(engine, "usage_records", USAGE_COLUMNS, usage)
    await bulk_insert(engine, "output_records", OUTPUT_COLUMNS, output)
    written += len(usage)
    async with engine.begin() as connection:
        for index in indexes:
            await connection.run_sync(index.create)
    async with sessions() as session:
        await begin_write(session)
        await rebuild_all(session)
        await session.commit()
    return written
