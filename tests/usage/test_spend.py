"""Spend answers against the independently computed Northwind figures."""

import csv
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from tests.conftest import NORTHWIND
from tests.northwind import (
    GATEWAY_AND_SHEET,
    expected,
    load_gateway_and_sheet,
    to_cents,
    usd,
    use_northwind_prices,
)
from usage.directory import TeamTree, person_by_email
from usage.periods import iso_week
from usage.settings import file_settings
from usage.spend import Scope, spend_summary
from usage.store import ImportReport, UsageRow, UsageWriter

TODAY = date(2026, 12, 4)


@pytest.fixture(autouse=True)
def northwind_prices(monkeypatch, tmp_path):
    use_northwind_prices(monkeypatch, tmp_path)


async def _summary(session, scope, week):
    tree = await TeamTree.load(session)
    return await spend_summary(
        session,
        scope=scope,
        period=iso_week(week),
        today=TODAY,
        settings=file_settings(),
        tree=tree,
    )


async def test_every_person_week_and_tool_matches_the_expected_figures(db):
    await load_gateway_and_sheet(db)
    mismatches = []

    async with db.sessions() as session:
        for week, figures in expected()["weeks"].items():
            for email, person in figures["people"].items():
                found = await person_by_email(session, email)
                summary = await _summary(session, Scope.person(found), week)
                got = {
                    line.name: to_cents(usd(line.cost_micros))
                    for line in summary.by_tool
                }
                for tool in GATEWAY_AND_SHEET:
                    want = to_cents(person["by_tool"].get(tool, "0"))
                    if got.get(tool, to_cents("0")) != want:
                        mismatches.append((week, email, tool, want, got.get(tool)))

    assert mismatches == []


def _expected_gateway_and_sheet(week: str, members: set[str] | None = None) -> Decimal:
    people = expected()["weeks"][week]["people"]
    return sum(
        (
            Decimal(person["by_tool"].get(tool, "0"))
            for email, person in people.items()
            if members is None or email in members
            for tool in GATEWAY_AND_SHEET
        ),
        Decimal(0),
    )


async def test_team_answer_includes_sub_teams_and_matches_direct_members(db):
    await load_gateway_and_sheet(db)
    with (NORTHWIND / "people.csv").open() as handle:
        platform_people = {
            row["email"] for row in csv.DictReader(handle) if row["team"] == "platform"
        }

    async with db.sessions() as session:
        tree = await TeamTree.load(session)
        platform = await _summary(
            session, Scope.team(tree, tree.by_name("platform")), "2026-W48"
        )
        engineering = await _summary(
            session, Scope.team(tree, tree.by_name("engineering")), "2026-W48"
        )
        org = await _summary(session, Scope.org(), "2026-W48")

    assert to_cents(usd(platform.total_micros)) == to_cents(
        _expected_gateway_and_sheet("2026-W48", platform_people)
    )
    assert to_cents(usd(engineering.total_micros)) == to_cents(
        _expected_gateway_and_sheet("2026-W48")
    )
    assert engineering.total_micros == org.total_micros
    assert sorted(line.name for line in engineering.subteams) == [
        "mobile",
        "payments",
        "platform",
    ]
    assert engineering.direct_micros + sum(
        line.cost_micros for line in engineering.subteams
    ) == (engineering.total_micros)


async def test_unpriced_tokens_are_named_and_kept_out_of_the_total(db):
    await load_gateway_and_sheet(db)

    async with db.sessions() as session:
        maria = await person_by_email(session, "maria.garcia@northwind.test")
        summary = await _summary(session, Scope.person(maria), "2026-W45")

    assert (
        summary.unpriced_tokens
        == expected()["unpriced_tokens"]["maria.garcia@northwind.test"]
    )
    assert summary.unpriced_requests == 1
    assert summary.unpriced_models == ["claude-sonnet-9-20990101"]


async def test_usual_is_the_median_of_earlier_weeks_since_usage_began(db):
    await load_gateway_and_sheet(db)

    async with db.sessions() as session:
        maria = await person_by_email(session, "maria.garcia@northwind.test")
        first = await _summary(session, Scope.person(maria), "2026-W45")
        last = await _summary(session, Scope.person(maria), "2026-W48")
        earlier = [
            await _summary(session, Scope.person(maria), w)
            for w in ("2026-W45", "2026-W46", "2026-W47")
        ]

    totals = sorted(s.total_micros for s in earlier)
    assert first.usual is None
    assert last.usual.median_micros == totals[1]
    assert last.usual.periods == 3


async def _fill(db, days: int) -> None:
    """One person with spend on each of ``days`` days ending 2026-11-29."""
    from usage.db import session_scope
    from usage.pricing import load_price_table

    end = date(2026, 11, 29)
    rows = [
        UsageRow(
            f"r{i}",
            "maria.garcia@northwind.test",
            "x",
            "claude-haiku-4-5",
            day=end - timedelta(days=i),
            source_cost=Decimal("1.5"),
        )
        for i in range(days)
    ]
    async with session_scope(db.sessions) as session:
        writer = await UsageWriter.open(
            session,
            source="t",
            settings=file_settings(),
            prices=load_price_table(),
            report=ImportReport(source="t", origin="t"),
        )
        await writer.add_usage(rows)
        await writer.finish()


async def _statements_for_answer(db) -> int:
    statements = []

    def count(*_args):
        statements.append(1)

    async with db.sessions() as session:
        tree = await TeamTree.load(session)
    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.sessions() as session:
            for scope in (Scope.team(tree, tree.by_name("platform")), Scope.org()):
                await _summary(session, scope, "2026-W48")
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    return len(statements)


async def test_an_answer_costs_the_same_statements_for_a_month_or_years(db):
    from tests.northwind import load_directory

    await load_directory(db)
    await _fill(db, 30)
    month = await _statements_for_answer(db)

    await _fill(db, 3 * 365)
    years = await _statements_for_answer(db)

    assert years == month
