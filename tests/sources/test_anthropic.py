"""The Anthropic usage and cost reports: tiers, attribution, units, paging, re-pulls."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.conftest import NORTHWIND
from tests.sources.fakes import KEY, FakeAnthropic, Sleeps, fixed_clock
from tests.sources.northwind import (
    expected_spend,
    records,
    scope_total,
    spend_by_person_week,
)
from usage.db import session_scope
from usage.directory import import_directory
from usage.errors import PagingError
from usage.models import BilledCost, SourceState, UsageRecord
from usage.pricing import to_micros
from usage.sources import anthropic
from usage.sources.http import SourceError

SINCE, UNTIL = date(2026, 11, 2), date(2026, 11, 29)
SAM = "sam.okafor@northwind.test"


def client(fake: FakeAnthropic, sleeps=None):
    return anthropic.client(
        api_key=KEY,
        base_url="http://anthropic.test",
        transport=fake.transport(),
        sleep=sleeps or Sleeps(),
    )


async def pull_usage(db, fake=None, **window):
    window = {"since": SINCE, "until": UNTIL, **window}
    async with client(fake or FakeAnthropic()) as api:
        return await anthropic.ingest_usage(
            db.sessions, api=api, clock=fixed_clock(), **window
        )


async def pull_costs(db, fake, **window):
    window = {"since": SINCE, "until": UNTIL, **window}
    async with client(fake) as api:
        return await anthropic.ingest_costs(
            db.sessions, api=api, clock=fixed_clock(), **window
        )


def bucket(day: str, *results) -> dict:
    return {
        "starting_at": f"{day}T00:00:00Z",
        "ending_at": f"{day}T23:59:59Z",
        "results": list(results),
    }


def usage_result(key="apikey_no000", model="claude-haiku-4-5", **tokens) -> dict:
    return {
        "uncached_input_tokens": tokens.get("input", 0),
        "cache_creation": {
            "ephemeral_5m_input_tokens": tokens.get("write_5m", 0),
            "ephemeral_1h_input_tokens": tokens.get("write_1h", 0),
        },
        "cache_read_input_tokens": tokens.get("read", 0),
        "output_tokens": tokens.get("output", 0),
        "api_key_id": key,
        "workspace_id": "wrkspc_paym",
        "model": model,
        "service_tier": tokens.get("tier", "standard"),
        "context_window": "0-200k",
    }


def one_page(*buckets) -> list[dict]:
    return [{"data": list(buckets), "has_more": False, "next_page": None}]


def stored_cost(rows, *, day: date, **match) -> int:
    chosen = [
        r
        for r in rows
        if r.day == day and all(getattr(r, k) == v for k, v in match.items())
    ]
    assert len(chosen) == 1
    return chosen[0].cost_micros


async def test_batch_bucket_bills_half_the_standard_rate(northwind):
    await pull_usage(northwind)

    rows = await records(northwind.sessions, "anthropic")

    assert stored_cost(rows, day=date(2026, 11, 12), tier="batch") == 2_250_000


async def test_long_context_bucket_bills_every_token_at_the_premium(northwind):
    await pull_usage(northwind)

    rows = await records(northwind.sessions, "anthropic")

    assert stored_cost(rows, day=date(2026, 11, 13), long_context=True) == 2_025_000


async def test_one_hour_cache_writes_bill_at_their_own_rate(northwind):
    await pull_usage(northwind)

    rows = await records(northwind.sessions, "anthropic")

    # opus, 2026-11-02: 249,606 in, 23,547 5m writes, 2,997 1h writes, 620,319 reads,
    # 52,586 out at $5 / $6.25 / $10 / $0.50 / $25 per million.
    expected = (
        249_606 * Decimal(5)
        + 23_547 * Decimal("6.25")
        + 2_997 * Decimal(10)
        + 620_319 * Decimal("0.5")
        + 52_586 * Decimal(25)
    ) / 1_000_000
    cost = stored_cost(
        rows, day=date(2026, 11, 2), identity="apikey_no000", model="claude-opus-4-5"
    )
    assert cost == to_micros(expected)
    assert [r.cache_write_1h_tokens for r in rows if r.cost_micros == cost] == [2_997]


async def test_usage_input_excludes_cache_so_it_is_stored_as_given(northwind):
    fake = FakeAnthropic(
        usage=one_page(
            bucket("2026-11-03", usage_result(input=2_000, read=50_000, output=1_000))
        )
    )

    await pull_usage(northwind, fake)

    (row,) = await records(northwind.sessions, "anthropic")
    assert (row.input_tokens, row.cache_read_tokens) == (2_000, 50_000)
    # haiku: 2,000 x $1 + 50,000 x $0.10 + 1,000 x $5 per million
    assert row.cost_micros == 12_000


async def test_keys_are_attributed_to_their_creators_or_the_key_map(
    northwind, settings_file
):
    settings_file(
        '[sources.anthropic.key_map]\n"erin.walsh-laptop" = "dev.patel@northwind.test"'
    )

    await pull_usage(northwind)

    got = await spend_by_person_week(northwind.sessions, ("anthropic-api",))
    expected = expected_spend(("anthropic-api",))
    for week in ("2026-W45", "2026-W46", "2026-W47", "2026-W48"):
        dev = ("dev.patel@northwind.test", week, "anthropic-api")
        erin = ("erin.walsh@northwind.test", week, "anthropic-api")
        assert got[dev] == expected[dev] + expected[erin]
        assert erin not in got
        sam = (SAM, week, "anthropic-api")
        assert got[sam] == expected[sam]


async def test_usage_of_an_unknown_key_is_kept_as_unattributed(northwind):
    fake = FakeAnthropic(
        usage=one_page(
            bucket("2026-11-03", usage_result(key="apikey_gone", input=10**6))
        )
    )

    report = await pull_usage(northwind, fake)

    assert await scope_total(northwind.sessions, "unattributed") == 1_000_000
    assert await scope_total(northwind.sessions, "person") == 0
    assert report.unattributed == 1


async def test_cost_report_amounts_are_cents_strings(northwind):
    result = {"currency": "USD", "amount": "41280.000000", "workspace_id": None}
    fake = FakeAnthropic(costs=one_page(bucket("2026-11-03", result)))

    await pull_costs(northwind, fake)

    async with northwind.sessions() as session:
        (billed,) = (await session.execute(select(BilledCost))).scalars()
    assert billed.cost_micros == 412_800_000
    assert (billed.tool, billed.scope) == ("anthropic-api", "default")


async def test_cost_report_follows_every_page_of_the_month(northwind):
    days = [date(2026, 9, day).isoformat() for day in range(1, 31)]
    result = {"currency": "USD", "amount": "1000", "workspace_id": "wrkspc_a"}
    buckets = [bucket(day, result) for day in days]
    fake = FakeAnthropic(
        costs=[
            {"data": buckets[:7], "has_more": True, "next_page": "pg2"},
            {"data": buckets[7:], "has_more": False, "next_page": None},
        ]
    )

    await pull_costs(northwind, fake, since=date(2026, 9, 1), until=date(2026, 9, 30))

    async with northwind.sessions() as session:
        total = await session.execute(select(func.sum(BilledCost.cost_micros)))
    assert total.scalar_one() == 300_000_000
    assert len(fake.requests) == 2


async def test_repulled_day_replaces_the_bucket_that_grew(northwind):
    today = date(2026, 11, 30)
    before = FakeAnthropic(
        usage=one_page(bucket("2026-11-30", usage_result(input=4_000_000)))
    )
    after = FakeAnthropic(
        usage=one_page(bucket("2026-11-30", usage_result(input=6_000_000)))
    )

    await pull_usage(northwind, before, since=today, until=today)
    await pull_usage(northwind, after, since=today, until=today)

    assert await scope_total(northwind.sessions, "person") == 6_000_000


@pytest.mark.parametrize(
    "token", ["page_northwind_2", None], ids=["repeated", "missing"]
)
async def test_broken_paging_fails_loudly_and_stores_no_partial_total(northwind, token):
    recorded = FakeAnthropic().usage
    recorded[1]["next_page"] = token  # page 2 says has_more, with a bad cursor
    fake = FakeAnthropic(usage=recorded)

    with pytest.raises(PagingError):
        await pull_usage(northwind, fake)

    assert await records(northwind.sessions, "anthropic") == []
    assert await scope_total(northwind.sessions, "person") == 0
    async with northwind.sessions() as session:
        state = await session.get(SourceState, "anthropic")
    assert "nothing from this pull was stored" in state.last_error
    assert state.last_success_at is None


async def test_pull_cut_off_halfway_then_run_again_has_exact_totals(northwind):
    broken = FakeAnthropic()
    broken.fail_after = 6  # the first two weeks' pages, users and keys get through

    async with client(broken) as api:
        with pytest.raises(SourceError):
            await anthropic.ingest_usage(
                northwind.sessions,
                api=api,
                since=SINCE,
                until=UNTIL,
                clock=fixed_clock(),
                slice_days=14,
            )
    async with northwind.sessions() as session:
        state = await session.get(SourceState, "anthropic")
    assert state.cursor == "2026-11-16"  # the first two weeks were stored
    assert state.last_error

    await pull_usage(northwind, FakeAnthropic(), since=None, until=UNTIL)

    got = await spend_by_person_week(northwind.sessions, ("anthropic-api",))
    assert got == expected_spend(("anthropic-api",))
    async with northwind.sessions() as session:
        state = await session.get(SourceState, "anthropic")
        count = await session.execute(
            select(func.count())
            .select_from(UsageRecord)
            .where(UsageRecord.source == "anthropic")
        )
    assert state.last_error is None
    assert (state.covered_from, state.covered_to) == (SINCE, UNTIL)
    assert state.rows_total == count.scalar_one()


async def test_pulling_the_same_window_twice_keeps_the_same_totals(northwind):
    await pull_usage(northwind)
    first = await spend_by_person_week(northwind.sessions, ("anthropic-api",))

    report = await pull_usage(northwind)

    assert await spend_by_person_week(northwind.sessions, ("anthropic-api",)) == first
    assert report.replaced == report.imported


async def test_keys_pulled_before_the_directory_are_attributed_once_it_arrives(
    db, settings_file
):
    await pull_usage(db)
    assert await scope_total(db.sessions, "person") == 0

    async with session_scope(db.sessions) as session:
        await import_directory(
            session,
            people_path=NORTHWIND / "people.csv",
            teams_path=NORTHWIND / "teams.csv",
        )

    got = await spend_by_person_week(db.sessions, ("anthropic-api",))
    assert got == expected_spend(("anthropic-api",))
    assert await scope_total(db.sessions, "unattributed") == 0
