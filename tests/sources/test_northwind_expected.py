"""The whole Northwind month through the connectors, against expected.json.

Each fake serves the fixture pages with the vendor's own paging, and each
pull meets a rate limit, a server error and a connection cut on the way.
"""

from __future__ import annotations

from datetime import date

from tests.conftest import NORTHWIND
from tests.sources.fakes import (
    CUT,
    KEY,
    RESET,
    FakeAnthropic,
    FakeCursor,
    FakeGitHub,
    FakeOpenAI,
    Sleeps,
    fixed_clock,
    server_error,
    too_many,
)
from tests.sources.northwind import (
    EXPECTED,
    expected_output,
    expected_spend,
    micros,
    output_by_person_week,
    scope_total,
    spend_by_person_week,
)
from usage.db import session_scope
from usage.ingest import ingest_litellm_file, ingest_spreadsheet
from usage.reconcile import reconcile_by_week
from usage.sources import anthropic, claude_code, cursor, github, openai

SINCE, UNTIL = date(2026, 11, 2), date(2026, 11, 29)
CONNECTOR_TOOLS = ("anthropic-api", "openai-api", "claude-code", "cursor")
FAULTS = {2: too_many(7), 3: server_error(500), 5: CUT, 6: RESET}


async def pull_everything(sessions, sleeps: Sleeps) -> None:
    window = {"since": SINCE, "until": UNTIL, "clock": fixed_clock()}
    fakes = {
        "anthropic": FakeAnthropic(faults=FAULTS),
        "costs": FakeAnthropic(faults=FAULTS),
        "claude": FakeAnthropic(faults=FAULTS),
        "openai": FakeOpenAI(faults=FAULTS),
        "cursor": FakeCursor(faults=FAULTS),
        "github": FakeGitHub(faults=FAULTS),
    }
    options = {"api_key": KEY, "base_url": "http://vendor.test", "sleep": sleeps}

    def api(module, fake):
        return module.client(transport=fakes[fake].transport(), **options)

    async with api(anthropic, "anthropic") as client:
        await anthropic.ingest_usage(sessions, api=client, **window)
    async with api(anthropic, "costs") as client:
        await anthropic.ingest_costs(sessions, api=client, **window)
    async with api(anthropic, "claude") as client:
        await claude_code.ingest(sessions, api=client, **window)
    async with api(openai, "openai") as client:
        await openai.ingest_usage(sessions, api=client, **window)
    async with api(cursor, "cursor") as client:
        await cursor.ingest(sessions, api=client, page_size=100, **window)
    options["base_url"] = "http://github.test"
    async with api(github, "github") as client:
        await github.ingest(sessions, api=client, org="northwind", **window)
    return fakes


async def test_connectors_reproduce_every_person_week_figure(northwind):
    sleeps = Sleeps()

    fakes = await pull_everything(northwind.sessions, sleeps)

    got = await spend_by_person_week(northwind.sessions, CONNECTOR_TOOLS)
    assert got == expected_spend(CONNECTOR_TOOLS)
    assert await output_by_person_week(northwind.sessions) == expected_output()
    assert sleeps.waits.count(7) == len(fakes)  # every Retry-After: 7 honoured
    assert fakes["cursor"].paths().count("/teams/filtered-usage-events") == 5 + 4


async def test_connectors_with_the_file_imports_give_each_persons_total(northwind):
    await pull_everything(northwind.sessions, Sleeps())
    await ingest_litellm_file(
        northwind.sessions, path=NORTHWIND / "litellm_spend_logs.csv"
    )
    await ingest_spreadsheet(
        northwind.sessions, path=NORTHWIND / "tool_costs.csv", tool="vertex-ai"
    )

    tools = ("api-gateway", "vertex-ai", *CONNECTOR_TOOLS)
    got = await spend_by_person_week(northwind.sessions, tools)

    for week, figures in EXPECTED["weeks"].items():
        for email, person in figures["people"].items():
            total = sum(
                v for (who, wk, _), v in got.items() if (who, wk) == (email, week)
            )
            assert abs(total - micros(person["total_usd"])) < 10_000, (week, email)
    assert (
        abs(
            await scope_total(northwind.sessions, "org")
            - sum(micros(w["org_total_usd"]) for w in EXPECTED["weeks"].values())
        )
        < 10_000
    )


async def test_anthropic_cost_report_reconciles_per_week(northwind):
    await pull_everything(northwind.sessions, Sleeps())

    async with session_scope(northwind.sessions) as session:
        weeks = await reconcile_by_week(
            session, tool="anthropic-api", start=SINCE, end=date(2026, 11, 30)
        )

    billed = {week.week: week.billed_micros for week in weeks}
    expected = {
        week: micros(v) for week, v in EXPECTED["anthropic_billed_by_week"].items()
    }
    assert billed == expected
    assert [week.gap_micros for week in weeks] == [0, 0, 0, 0]
    assert all(week.unattributed_micros == 0 for week in weeks)
