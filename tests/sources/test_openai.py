"""OpenAI usage and costs: cached input inside input, batch tier, dollars."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.sources.fakes import KEY, FakeOpenAI, Sleeps, fixed_clock
from tests.sources.northwind import records
from usage.models import BilledCost
from usage.sources import openai

DAY = date(2026, 11, 3)
START = 1793664000  # 2026-11-03T00:00:00Z


def client(fake):
    return openai.client(
        api_key=KEY,
        base_url="http://openai.test",
        transport=fake.transport(),
        sleep=Sleeps(),
    )


def page(*results, start=START) -> list[dict]:
    bucket = {"object": "bucket", "start_time": start, "end_time": start + 86400}
    return [
        {
            "object": "page",
            "data": [{**bucket, "results": list(results)}],
            "has_more": False,
            "next_page": None,
        }
    ]


def result(**fields) -> dict:
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": 0,
        "output_tokens": 0,
        "input_cached_tokens": 0,
        "num_model_requests": 1,
        "project_id": None,
        "user_id": "user-no0000",
        "api_key_id": None,
        "model": "gpt-5",
        "batch": False,
        "service_tier": None,
        **fields,
    }


async def pull(db, fake, *, costs=False):
    ingest = openai.ingest_costs if costs else openai.ingest_usage
    async with client(fake) as api:
        return await ingest(
            db.sessions, api=api, since=DAY, until=DAY, clock=fixed_clock()
        )


async def test_input_tokens_include_cached_ones_which_are_priced_once(northwind):
    fake = FakeOpenAI(
        usage=page(
            result(input_tokens=10_000, input_cached_tokens=8_000, output_tokens=500)
        )
    )

    await pull(northwind, fake)

    (row,) = await records(northwind.sessions, "openai")
    assert (row.input_tokens, row.cache_read_tokens) == (2_000, 8_000)
    # gpt-5: 2,000 x $1.25 + 8,000 x $0.125 + 500 x $10 per million
    assert row.cost_micros == 8_500
    assert row.person_id is not None  # user-no0000 is jordan.blake


async def test_batch_buckets_use_the_batch_price(northwind):
    fake = FakeOpenAI(usage=page(result(input_tokens=1_000_000, batch=True)))

    await pull(northwind, fake)

    (row,) = await records(northwind.sessions, "openai")
    assert (row.tier, row.cost_micros) == ("batch", 625_000)


async def test_more_cached_than_input_is_rejected_and_reported(northwind):
    fake = FakeOpenAI(
        usage=page(
            result(input_tokens=10, input_cached_tokens=20), result(input_tokens=5)
        )
    )

    report = await pull(northwind, fake)

    assert len(await records(northwind.sessions, "openai")) == 1
    assert [why for _, why in report.rejected] == [
        "input_cached_tokens is larger than input_tokens"
    ]


async def test_costs_are_dollars_as_numbers(northwind):
    amount = {
        "object": "organization.costs.result",
        "project_id": "proj_a",
        "amount": {"value": 412.8, "currency": "usd"},
    }
    fake = FakeOpenAI(costs=page(amount))

    await pull(northwind, fake, costs=True)

    async with northwind.sessions() as session:
        (billed,) = (await session.execute(select(BilledCost))).scalars()
    assert (billed.cost_micros, billed.scope, billed.tool) == (
        412_800_000,
        "proj_a",
        "openai-api",
    )


async def test_usage_is_grouped_by_user_and_model_in_the_request(northwind):
    fake = FakeOpenAI()

    await pull(northwind, fake)

    groups = fake.requests[0].url.params.get_list("group_by[]")
    assert {"user_id", "model", "batch"} <= set(groups)
    assert fake.requests[0].url.params["bucket_width"] == "1d"
