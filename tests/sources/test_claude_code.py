"""Claude Code analytics: day-by-day paging, cents, output context, key actors."""

from __future__ import annotations

from datetime import date

from tests.sources.fakes import KEY, FakeAnthropic, Sleeps, fixed_clock
from tests.sources.northwind import output_by_person_week, records, scope_total
from usage.sources import anthropic, claude_code

DAY = date(2026, 11, 2)


def client(fake):
    return anthropic.client(
        api_key=KEY,
        base_url="http://anthropic.test",
        transport=fake.transport(),
        sleep=Sleeps(),
    )


def record(actor: dict, *, amount=250, customer="api", **core) -> dict:
    return {
        "date": DAY.isoformat(),
        "actor": actor,
        "customer_type": customer,
        "terminal_type": "vscode",
        "core_metrics": {
            "num_sessions": core.get("sessions", 1),
            "lines_of_code": {"added": core.get("added", 10), "removed": 2},
            "commits_by_claude_code": core.get("commits", 1),
            "pull_requests_by_claude_code": 0,
        },
        "tool_actions": {"edit_tool": {"accepted": 3, "rejected": 1}},
        "model_breakdown": [
            {
                "model": "claude-sonnet-4-5",
                "tokens": {
                    "input": 1000,
                    "output": 100,
                    "cache_read": 0,
                    "cache_creation": 0,
                },
                "estimated_cost": {"currency": "USD", "amount": amount},
            }
        ],
    }


async def pull(db, fake, *, since=DAY, until=DAY):
    async with client(fake) as api:
        return await claude_code.ingest(
            db.sessions, api=api, since=since, until=until, clock=fixed_clock()
        )


async def test_each_day_is_asked_for_and_paged_to_its_end(northwind):
    fake = FakeAnthropic(day_page_size=2)

    await pull(northwind, fake, since=date(2026, 11, 2), until=date(2026, 11, 4))

    asked = [
        (r.url.params["starting_at"], r.url.params.get("page")) for r in fake.requests
    ]
    assert [day for day, _ in asked] == sorted(day for day, _ in asked)
    assert {day for day, _ in asked} == {"2026-11-02", "2026-11-03", "2026-11-04"}
    assert ("2026-11-02", "cc_2026-11-02_2") in asked
    stored = await records(northwind.sessions, "claude-code")
    wanted = [r for r in fake.analytics if r["date"] <= "2026-11-04"]
    assert len({r.source_key.rsplit("|", 1)[0] for r in stored}) == len(wanted)


async def test_estimated_cost_is_cents(northwind):
    fake = FakeAnthropic()
    fake.analytics = [
        record({"type": "user_actor", "email_address": "ana.ruiz@northwind.test"})
    ]

    await pull(northwind, fake)

    (row,) = await records(northwind.sessions, "claude-code")
    assert (row.cost_micros, row.cost_origin, row.tool) == (
        2_500_000,
        "source",
        "claude-code",
    )


async def test_output_context_includes_lines_removed_and_edit_decisions(northwind):
    fake = FakeAnthropic()
    fake.analytics = [
        record(
            {"type": "user_actor", "email_address": "Ana.Ruiz@northwind.test"}, added=40
        )
    ]

    await pull(northwind, fake)

    metrics = ("lines_added", "lines_removed", "edits_accepted", "edits_rejected")
    got = await output_by_person_week(northwind.sessions, metrics)
    ana = "ana.ruiz@northwind.test"
    assert got == {
        (ana, "2026-W45", "lines_added"): 40,
        (ana, "2026-W45", "lines_removed"): 2,
        (ana, "2026-W45", "edits_accepted"): 3,
        (ana, "2026-W45", "edits_rejected"): 1,
    }


async def test_api_key_actors_are_attributed_through_the_key_map(
    northwind, settings_file
):
    settings_file('[sources.anthropic.key_map]\n"ci-runner" = "ci-bot@northwind.test"')
    fake = FakeAnthropic()
    fake.analytics = [
        record({"type": "api_actor", "api_key_name": "ci-runner"}),
        record({"type": "api_actor", "api_key_name": "unknown-key"}, amount=100),
    ]

    await pull(northwind, fake)

    assert await scope_total(northwind.sessions, "person") == 2_500_000
    assert await scope_total(northwind.sessions, "unattributed") == 1_000_000


async def test_subscription_seat_without_estimate_is_not_priced_from_tokens(northwind):
    fake = FakeAnthropic()
    fake.analytics = [
        record(
            {"type": "user_actor", "email_address": "ana.ruiz@northwind.test"},
            amount=0,
            customer="subscription",
        ),
        record(
            {"type": "user_actor", "email_address": "ben.kowalski@northwind.test"},
            amount=0,
        ),
    ]

    await pull(northwind, fake)

    costs = {
        r.identity: r.cost_micros
        for r in await records(northwind.sessions, "claude-code")
    }
    assert costs["ana.ruiz@northwind.test"] == 0
    # API customers with a zero estimate are priced: 1,000 x $3 + 100 x $15 per million
    assert costs["ben.kowalski@northwind.test"] == 4_500
