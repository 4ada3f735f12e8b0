"""The same team answer the way it is done without aispend: GROUP BY over raw
per-request rows in a gateway-style spend-log table (indexed on start time)."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from sqlalchemy import text

from bench.generate import Org, _team_layout, bulk_insert, person_days
from bench.measure import Timings, timed_calls
from usage.periods import month_period, week_period

MAX_ROWS_PER_LINE = 6

CREATE = """
CREATE TABLE naive_spend_logs (
    request_id TEXT PRIMARY KEY,
    start_time TIMESTAMP NOT NULL,
    user_email TEXT NOT NULL,
    team_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    tool TEXT NOT NULL,
    spend NUMERIC NOT NULL
)
"""
COLUMNS = (
    "request_id",
    "start_time",
    "user_email",
    "team_id",
    "model",
    "tool",
    "spend",
)
INDEX = "CREATE INDEX ix_naive_spend_logs_start ON naive_spend_logs (start_time)"


async def fill_naive(engine, org: Org, *, price_of) -> int:
    """Per-request rows for the same people and days as the aispend data."""
    _, membership = _team_layout(org)
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS naive_spend_logs"))
        await connection.execute(text(CREATE))
    count = 0
    rows = []
    for person in range(org.people):
        email = org.email(person)
        for day, lines in person_days(org, person):
            for tool, model, scale in lines:
                requests = max(1, min(MAX_ROWS_PER_LINE, int(20 * scale)))
                cost = price_of(model, scale) / requests
                for n in range(requests):
                    at = datetime.combine(day, time(9)) + timedelta(minutes=37 * n)
                    rows.append(
                        (
                            f"{email}|{day}|{tool}|{model}|{n}",
                            at,
                            email,
                            membership[person],
                            model,
                            tool,
                            round(cost, 6),
                        )
                    )
        if len(rows) >= 50_000:
            await bulk_insert(engine, "naive_spend_logs", COLUMNS, rows)
            count += len(rows)
            rows = []
    await bulk_insert(engine, "naive_spend_logs", COLUMNS, rows)
    count += len(rows)
    async with engine.begin() as connection:
        await connection.execute(text(INDEX))
        await connection.execute(text("ANALYZE naive_spend_logs"))
    return count


async def naive_team_timings(engine, org: Org, *, calls: int) -> Timings:
    """The team answer's figures straight from raw rows: the week by tool and
    model, the people who spent, eight weeks of daily totals for the usual, the
    month to date for the budget, and the day the team's usage began (the usual
    counts only weeks after it)."""
    _, membership = _team_layout(org)
    teams = sorted(set(membership.values()))
    today = org.end - timedelta(days=1)
    week = week_period(today - timedelta(days=7))
    month = month_period(today.year, today.month)
    usual_start = week.previous(8).start
    rng = random.Random(5)

    def at(day) -> datetime:
        return datetime.combine(day, time(0))

    async def one(_index: int) -> None:
        team = rng.choice(teams)
        in_week = {"t": team, "a": at(week.start), "b": at(week.end)}
        async with engine.connect() as connection:
            await connection.execute(
                text(
                    "SELECT tool, model, SUM(spend) FROM naive_spend_logs WHERE team_id = :t "
                    "AND start_time >= :a AND start_time < :b GROUP BY tool, model"
                ),
                in_week,
            )
            await connection.execute(
                text(
                    "SELECT COUNT(DISTINCT user_email) FROM naive_spend_logs "
                    "WHERE team_id = :t AND start_time >= :a AND start_time < :b"
                ),
                in_week,
            )
            for start, end in (
                (usual_start, week.start),
                (month.start, today + timedelta(days=1)),
            ):
                await connection.execute(
                    text(
                        "SELECT date(start_time), SUM(spend) FROM naive_spend_logs "
                        "WHERE team_id = :t AND start_time >= :a AND start_time < :b "
                        "GROUP BY date(start_time)"
                    ),
                    {"t": team, "a": at(start), "b": at(end)},
                )
            await connection.execute(
                text("SELECT MIN(start_time) FROM naive_spend_logs WHERE team_id = :t"),
                {"t": team},
            )

    await one(0)
    return await timed_calls(one, calls)
