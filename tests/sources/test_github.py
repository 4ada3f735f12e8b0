"""GitHub merged pull requests: Link paging, bots, the 1,000-result cap."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.sources.fakes import KEY, FakeGitHub, Sleeps, fixed_clock, pages
from tests.sources.northwind import expected_output, output_by_person_week
from usage.errors import PagingError
from usage.sources import github

SINCE, UNTIL = date(2026, 11, 2), date(2026, 11, 29)
BASE = "http://github.test"


async def pull(db, fake, *, cap=github.SEARCH_CAP):
    api = github.client(
        api_key=KEY, base_url=BASE, transport=fake.transport(), sleep=Sleeps()
    )
    async with api:
        return await github.ingest(
            db.sessions,
            api=api,
            org="northwind",
            since=SINCE,
            until=UNTIL,
            clock=fixed_clock(),
            cap=cap,
        )


def merged_prs() -> dict:
    return {k: v for k, v in expected_output().items() if k[2] == "prs_merged"}


async def test_the_fake_serves_the_recorded_pages_for_the_month(northwind):
    fake = FakeGitHub(base=BASE)

    await pull(northwind, fake)

    served = [response for response in fake.requests]
    assert len(served) == 2
    query = served[0].url.params["q"]
    assert query == "org:northwind is:pr is:merged merged:2026-11-02..2026-11-29"
    first = fake.handler(served[0]).json()
    assert first["items"] == pages("github", "search_page")[0]["items"]


async def test_merged_prs_per_person_leave_out_bots(northwind):
    report = await pull(northwind, FakeGitHub(base=BASE))

    assert (
        await output_by_person_week(northwind.sessions, ("prs_merged",)) == merged_prs()
    )
    assert any("dependabot[bot]" in note for _, note in report.flagged)


async def test_ranges_past_the_result_cap_are_split_until_complete(northwind):
    fake = FakeGitHub(base=BASE, cap=40)

    await pull(northwind, fake, cap=40)

    assert (
        await output_by_person_week(northwind.sessions, ("prs_merged",)) == merged_prs()
    )
    ranges = [
        r.url.params["q"].rsplit(":", 1)[-1]
        for r in fake.requests
        if "page" not in r.url.params
    ]
    assert len(ranges) > 3


def test_ranges_below_a_day_are_written_as_instants():
    start = datetime(2026, 11, 2, tzinfo=UTC)
    end = datetime(2026, 11, 2, 12, tzinfo=UTC)

    assert (
        github.merged_range(start, end) == "2026-11-02T00:00:00Z..2026-11-02T11:59:59Z"
    )
    assert github.halves(start, datetime(2026, 11, 6, tzinfo=UTC))[1] == datetime(
        2026, 11, 4, tzinfo=UTC
    )


async def test_a_next_link_to_another_host_is_not_followed(northwind):
    fake = FakeGitHub(base="http://elsewhere.test")

    with pytest.raises(PagingError, match="another host"):
        await pull(northwind, fake)

    assert [r.url.host for r in fake.requests] == ["github.test"]


async def test_logins_not_in_the_directory_are_kept_unattributed(northwind):
    item = dict(pages("github", "search_page")[0]["items"][0])
    item["user"] = {"login": "stranger", "type": "User"}
    item["html_url"] = "https://github.example/northwind/app/pull/9999"

    report = await pull(northwind, FakeGitHub(base=BASE, items=[item]))

    assert report.unattributed == 1
    assert await output_by_person_week(northwind.sessions, ("prs_merged",)) == {}
