"""How values survive the database: instants, money and budget months."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select

from usage.db import session_scope
from usage.models import SpendRollup, Team, UsageRecord
from usage.periods import month_period
from usage.pricing import PriceTable, Tokens, load_price_table
from usage.settings import Settings, file_settings
from usage.spend import Scope, project_budget, spend_summary
from usage.store import ImportReport, UsageRow, UsageWriter


async def _write(
    db,
    rows,
    *,
    settings: Settings | None = None,
    prices: PriceTable | None = None,
    replace: bool = False,
):
    async with session_scope(db.sessions) as session:
        report = ImportReport(source="t", origin="test")
        writer = await UsageWriter.open(
            session,
            source="t",
            settings=settings or file_settings(),
            prices=prices or load_price_table(),
            report=report,
        )
        await writer.add_usage(rows, replace=replace)
        await writer.finish()
    return report


def _one_dollar_at(when: datetime) -> UsageRow:
    return UsageRow(
        "r1", "a@example.com", "x", "m", occurred_at=when, source_cost=Decimal(1)
    )


async def test_an_instant_with_an_offset_is_found_by_a_utc_range(db):
    # 2025-03-31T20:00-07:00 is 03:00Z on April 1.
    when = datetime(2025, 3, 31, 20, 0, tzinfo=timezone(timedelta(hours=-7)))
    await _write(db, [_one_dollar_at(when)])

    async with db.sessions() as session:
        found = (
            await session.execute(
                select(UsageRecord).where(
                    UsageRecord.occurred_at >= datetime(2025, 4, 1, tzinfo=UTC)
                )
            )
        ).scalar_one()

    assert found.occurred_at == datetime(2025, 4, 1, 3, 0, tzinfo=UTC)
    assert found.day == date(2025, 4, 1)


async def test_reporting_zone_decides_the_day_of_an_instant(db, tmp_path, monkeypatch):
    config = tmp_path / "a.toml"
    config.write_text('[organisation]\nreporting_timezone = "America/Los_Angeles"\n')
    monkeypatch.setenv("AISPEND_CONFIG", str(config))
    when = datetime(2025, 4, 1, 3, 0, tzinfo=UTC)

    await _write(db, [_one_dollar_at(when)], settings=file_settings())

    async with db.sessions() as session:
        record = (await session.execute(select(UsageRecord))).scalar_one()
    assert record.day == date(2025, 3, 31)


async def test_a_thousand_tiny_requests_keep_every_micro_dollar(db):
    rows = [
        UsageRow(
            f"r{i}",
            "a@example.com",
            "x",
            "m",
            day=date(2025, 4, 1),
            source_cost=Decimal("0.000003"),
        )
        for i in range(1000)
    ]
    await _write(db, rows)

    async with db.sessions() as session:
        summary = await spend_summary(
            session,
            scope=Scope.org(),
            period=month_period(2025, 4),
            today=date(2025, 4, 30),
            settings=file_settings(),
        )

    assert summary.total_micros == 3_000  # $0.003000, not $0.00


def test_budget_month_to_date_starts_again_each_month():
    # $100/month budget: $80 spent Mar 10-31, then $5 on Apr 1.
    daily = {date(2025, 3, 10) + timedelta(days=i): 80_000_000 // 22 for i in range(22)}
    daily[date(2025, 4, 1)] = 5_000_000
    april = month_period(2025, 4)

    budget = project_budget(
        daily,
        month=april,
        as_of=date(2025, 4, 1),
        budget_micros=100_000_000,
        incomplete=False,
    )

    assert budget.spent_micros == 5_000_000
    assert budget.label == "Apr 1–30"
    assert budget.share == 0.05


def test_forecast_and_crossing_day_come_from_the_recent_daily_pace():
    month = month_period(2025, 6)
    daily = {date(2025, 6, d): 10_000_000 for d in range(1, 11)}

    budget = project_budget(
        daily,
        month=month,
        as_of=date(2025, 6, 10),
        budget_micros=200_000_000,
        incomplete=False,
    )

    assert budget.spent_micros == 100_000_000
    assert budget.forecast_micros == 300_000_000
    assert budget.crosses_on == date(2025, 6, 20)


def test_a_budget_already_crossed_names_the_day_it_happened():
    month = month_period(2025, 6)
    daily = {date(2025, 6, d): 30_000_000 for d in range(1, 6)}

    budget = project_budget(
        daily,
        month=month,
        as_of=date(2025, 6, 5),
        budget_micros=100_000_000,
        incomplete=False,
    )

    assert budget.crosses_on == date(2025, 6, 4)


async def test_unpriced_usage_marks_the_budget_incomplete(db):
    async with session_scope(db.sessions) as session:
        session.add(Team(name="t", monthly_budget_micros=100_000_000))
    await _write(
        db,
        [
            UsageRow(
                "r1",
                "a@example.com",
                "x",
                "mystery-model",
                day=date(2025, 4, 1),
                tokens=Tokens(input=5),
            )
        ],
    )
    async with db.sessions() as session:
        summary = await spend_summary(
            session,
            scope=Scope.org(),
            period=month_period(2025, 4),
            today=date(2025, 4, 2),
            settings=Settings({"organisation": {"monthly_budget_usd": 100}}),
        )

    assert summary.unpriced_tokens == 5
    assert summary.budget.incomplete


def _bucket(key: str, dollars: str, *, day: date = date(2025, 4, 1)) -> UsageRow:
    return UsageRow(
        key, "a@example.com", "x", "m", day=day, source_cost=Decimal(dollars)
    )


async def _org_day_micros(db, day: date) -> int | None:
    async with db.sessions() as session:
        return await session.scalar(
            select(func.sum(SpendRollup.cost_micros)).where(
                SpendRollup.scope_kind == "org", SpendRollup.day == day
            )
        )


async def test_a_re_pulled_bucket_replaces_its_figures_and_its_rollup(db):
    await _write(db, [_bucket("b1", "1"), _bucket("b2", "2")], replace=True)

    report = await _write(db, [_bucket("b1", "5"), _bucket("b3", "3")], replace=True)

    assert (report.imported, report.replaced, report.duplicates) == (1, 1, 0)
    assert await _org_day_micros(db, date(2025, 4, 1)) == 10_000_000


async def test_an_event_already_stored_is_a_duplicate_and_keeps_its_figures(db):
    await _write(db, [_bucket("e1", "1")])

    report = await _write(
        db, [_bucket("e1", "7"), _bucket("e2", "2"), _bucket("e2", "2")]
    )

    assert (report.imported, report.duplicates) == (1, 2)
    assert await _org_day_micros(db, date(2025, 4, 1)) == 3_000_000


async def test_a_new_event_keeps_every_field_through_the_bulk_load(db):
    when = datetime(2025, 4, 1, 23, 30, tzinfo=timezone(timedelta(hours=2)))
    row = UsageRow(
        "e1",
        " Someone@Example.com ",
        "x",
        "mystery-model",
        occurred_at=when,
        tokens=Tokens(input=250_000, cache_read=7, output=3),
        requests=2,
        tier="batch",
        long_context=True,
    )

    report = await _write(db, [row])

    async with db.sessions() as session:
        stored = (await session.execute(select(UsageRecord))).scalar_one()
    assert (report.imported, report.unpriced, report.unattributed) == (1, 1, 1)
    assert stored.occurred_at == datetime(2025, 4, 1, 21, 30, tzinfo=UTC)
    assert stored.day == date(2025, 4, 1)
    assert (stored.identity, stored.person_id) == ("someone@example.com", None)
    assert (stored.cost_micros, stored.cost_origin) == (None, "unpriced")
    assert (stored.long_context, stored.counted, stored.tier) == (True, True, "batch")
    assert (stored.input_tokens, stored.cache_read_tokens, stored.output_tokens) == (
        250_000,
        7,
        3,
    )
    assert stored.requests == 2
