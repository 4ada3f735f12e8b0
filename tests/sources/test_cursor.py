"""Cursor usage events: totalCents as cost, string counts, page/pageSize paging."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from tests.sources.fakes import KEY, FakeCursor, Sleeps, fixed_clock, json_response
from tests.sources.northwind import records
from usage.errors import PagingError
from usage.models import SourceState
from usage.sources import cursor

SINCE, UNTIL = date(2026, 11, 2), date(2026, 11, 29)


def event(model="auto", cents=16.5, **tokens) -> dict:
    return {
        "timestamp": "1793649780000",  # 2026-11-02T19:23:00Z
        "userEmail": "lee.chen@northwind.test",
        "model": model,
        "kind": "Usage-based",
        "isTokenBasedCall": True,
        "tokenUsage": {
            "inputTokens": tokens.get("input", "75464"),
            "outputTokens": 640,
            "cacheWriteTokens": 0,
            "cacheReadTokens": 44837,
            "totalCents": cents,
        },
    }


async def pull(db, fake, *, page_size=100):
    api = cursor.client(
        api_key=KEY,
        base_url="http://cursor.test",
        transport=fake.transport(),
        sleep=Sleeps(),
    )
    async with api:
        return await cursor.ingest(
            db.sessions,
            api=api,
            since=SINCE,
            until=UNTIL,
            clock=fixed_clock(),
            page_size=page_size,
        )


async def test_every_event_costs_its_total_cents_never_its_tokens(northwind):
    fake = FakeCursor(
        events=[event(model="auto"), event(model="claude-4.5-sonnet", cents=0)]
    )
    fake.events[1]["timestamp"] = "1793649790000"

    await pull(northwind, fake)

    rows = sorted(await records(northwind.sessions, "cursor"), key=lambda r: r.model)
    assert [(r.model, r.cost_micros) for r in rows] == [
        ("auto", 165_000),
        ("claude-4.5-sonnet", 0),
    ]
    assert all(r.cost_origin == "source" for r in rows)


async def test_input_tokens_arrive_as_strings_and_exclude_cache_reads(northwind):
    await pull(northwind, FakeCursor(events=[event(input="75464")]))

    (row,) = await records(northwind.sessions, "cursor")
    assert (row.input_tokens, row.cache_read_tokens, row.output_tokens) == (
        75464,
        44837,
        640,
    )


async def test_events_are_fetched_page_by_page_until_the_last(northwind):
    fake = FakeCursor()

    report = await pull(northwind, fake, page_size=50)

    bodies = [request.content for request in fake.requests]
    assert len(bodies) == 9  # 436 events, 50 a page
    assert report.imported == 436
    assert len(await records(northwind.sessions, "cursor")) == 436


async def test_a_page_that_repeats_fails_loudly_and_stores_nothing(northwind):
    fake = FakeCursor()
    original = fake.routes[("POST", "/teams/filtered-usage-events")]

    def stuck(request: httpx.Request) -> httpx.Response:
        answer = original(request).json()
        answer["pagination"]["currentPage"] = 1  # the server ignores ``page``
        return json_response(answer)

    fake.routes[("POST", "/teams/filtered-usage-events")] = stuck

    with pytest.raises(PagingError, match="answered page 1 when asked for page 2"):
        await pull(northwind, fake)

    assert await records(northwind.sessions, "cursor") == []


async def test_fewer_events_than_announced_fails_loudly(northwind):
    fake = FakeCursor()
    original = fake.routes[("POST", "/teams/filtered-usage-events")]

    def short(request: httpx.Request) -> httpx.Response:
        answer = original(request).json()
        answer["pagination"]["hasNextPage"] = False  # stops after page one
        return json_response(answer)

    fake.routes[("POST", "/teams/filtered-usage-events")] = short

    with pytest.raises(PagingError, match="reported 436 events but its pages held 100"):
        await pull(northwind, fake)

    assert await records(northwind.sessions, "cursor") == []
    async with northwind.sessions() as session:
        state = await session.get(SourceState, "cursor")
    assert "436" in state.last_error


async def test_reimporting_the_same_events_does_not_double_count(northwind):
    await pull(northwind, FakeCursor())
    first = sum(r.cost_micros for r in await records(northwind.sessions, "cursor"))

    await pull(northwind, FakeCursor())

    assert (
        sum(r.cost_micros for r in await records(northwind.sessions, "cursor")) == first
    )


async def test_an_event_without_an_email_is_kept_as_unattributed(northwind):
    event = {
        "timestamp": "1793635080000",
        "model": "gpt-5",
        "kind": "Usage-based",
        "isTokenBasedCall": True,
        "tokenUsage": {"inputTokens": 10, "outputTokens": 5, "totalCents": 12.5},
    }
    report = await pull(northwind, FakeCursor(events=[event]))

    [stored] = await records(northwind.sessions, "cursor")
    assert stored.person_id is None
    assert stored.cost_micros == 125_000
    assert report.unattributed == 1
