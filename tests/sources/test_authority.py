"""One spend counted once: the authoritative source per tool wins."""

from __future__ import annotations

from datetime import date

from tests.sources.fakes import KEY, FakeAnthropic, FakeCursor, Sleeps, fixed_clock
from tests.sources.northwind import expected_spend, scope_total
from usage.ingest import ingest_spreadsheet
from usage.sources import anthropic, cursor

SINCE, UNTIL = date(2026, 11, 2), date(2026, 11, 29)


async def pull_cursor(db):
    api = cursor.client(
        api_key=KEY,
        base_url="http://cursor.test",
        transport=FakeCursor().transport(),
        sleep=Sleeps(),
    )
    async with api:
        await cursor.ingest(
            db.sessions, api=api, since=SINCE, until=UNTIL, clock=fixed_clock()
        )


def cursor_invoice(tmp_path):
    path = tmp_path / "cursor_invoice.csv"
    path.write_text(
        "date,user_email,model,cost_usd\n2026-11-03,lee.chen@northwind.test,auto,500.00\n"
    )
    return path


async def test_a_non_authoritative_source_is_kept_but_not_counted(
    northwind, settings_file, tmp_path
):
    settings_file('[tools.authoritative]\ncursor = "cursor"')
    await pull_cursor(northwind)
    from_api = await scope_total(northwind.sessions, "person", "cursor")

    await ingest_spreadsheet(
        northwind.sessions, path=cursor_invoice(tmp_path), tool="cursor"
    )

    assert await scope_total(northwind.sessions, "person", "cursor") == from_api


async def test_without_an_authority_every_source_counts(northwind, tmp_path):
    await pull_cursor(northwind)
    from_api = await scope_total(northwind.sessions, "person", "cursor")

    await ingest_spreadsheet(
        northwind.sessions, path=cursor_invoice(tmp_path), tool="cursor"
    )

    assert (
        await scope_total(northwind.sessions, "person", "cursor")
        == from_api + 500_000_000
    )


async def test_changing_the_authority_settles_stored_rows_on_the_next_import(
    northwind, settings_file, tmp_path
):
    await ingest_spreadsheet(
        northwind.sessions, path=cursor_invoice(tmp_path), tool="cursor"
    )
    settings_file('[tools.authoritative]\ncursor = "cursor"')

    await pull_cursor(northwind)

    expected = expected_spend(("cursor",))
    assert await scope_total(northwind.sessions, "person", "cursor") == sum(
        expected.values()
    )  # the invoice, imported before the setting, is now left out


async def test_claude_code_keys_in_the_usage_report_are_not_counted_twice(
    northwind, settings_file
):
    settings_file(
        '[tools.authoritative]\n"claude-code" = "claude-code"\n'
        '[sources.anthropic.key_tools]\napikey_no002 = "claude-code"'
    )
    api = anthropic.client(
        api_key=KEY,
        base_url="http://a.test",
        transport=FakeAnthropic().transport(),
        sleep=Sleeps(),
    )

    async with api:
        await anthropic.ingest_usage(
            northwind.sessions, api=api, since=SINCE, until=UNTIL, clock=fixed_clock()
        )

    expected = expected_spend(("anthropic-api",))
    without_erin = sum(
        v for (who, _, _), v in expected.items() if not who.startswith("erin")
    )
    assert (
        await scope_total(northwind.sessions, "person", "anthropic-api") == without_erin
    )
    assert await scope_total(northwind.sessions, "person", "claude-code") == 0
