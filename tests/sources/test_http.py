"""Retries, waits and paging contracts of the shared vendor client."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.sources.fakes import CUT, RESET, Sleeps, fixed_clock, json_response
from usage.errors import ConfigError, PagingError
from usage.sources.http import (
    RetryPolicy,
    SourceError,
    VendorClient,
    cursor_pages,
    id_pages,
    next_link,
)

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def scripted(*answers):
    """A transport answering each request with the next scripted answer."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if hasattr(answer, "apply"):
            return answer.apply(request, lambda: json_response({"data": [], "ok": 1}))
        return answer

    return httpx.MockTransport(handler), seen


def vendor(transport, sleeps, **policy) -> VendorClient:
    return VendorClient(
        vendor="Vendor",
        base_url="http://vendor.test",
        transport=transport,
        sleep=sleeps,
        clock=fixed_clock(NOW),
        policy=RetryPolicy(**policy) if policy else None,
        key_hint="VENDOR_KEY",
    )


async def test_429_waits_exactly_what_retry_after_says():
    transport, seen = scripted(
        httpx.Response(429, headers={"retry-after": "7"}), json_response({"ok": 1})
    )
    sleeps = Sleeps()

    async with vendor(transport, sleeps) as api:
        body, _ = await api.get("/x", where="test")

    assert body == {"ok": 1}
    assert sleeps.waits == [7.0]
    assert len(seen) == 2


async def test_retry_after_as_a_date_is_measured_on_the_injected_clock():
    transport, _ = scripted(
        httpx.Response(429, headers={"retry-after": "Mon, 30 Nov 2026 08:00:30 GMT"}),
        json_response({"ok": 1}),
    )
    sleeps = Sleeps()

    async with vendor(transport, sleeps) as api:
        await api.get("/x", where="test")

    assert sleeps.waits == [30.0]


async def test_server_errors_back_off_doubling():
    transport, _ = scripted(
        httpx.Response(500), httpx.Response(503), httpx.Response(529), json_response({})
    )
    sleeps = Sleeps()

    async with vendor(transport, sleeps) as api:
        await api.get("/x", where="test")

    assert sleeps.waits == [1.0, 2.0, 4.0]


async def test_connection_cut_mid_body_and_reset_are_retried():
    transport, seen = scripted(CUT, RESET, json_response({"data": [1]}))
    sleeps = Sleeps()

    async with vendor(transport, sleeps) as api:
        body, _ = await api.get("/x", where="test")

    assert body == {"data": [1]}
    assert len(seen) == 3


async def test_a_failure_that_persists_ends_in_one_clear_error():
    transport, seen = scripted(*[httpx.Response(502)] * 3)

    async with vendor(transport, Sleeps(), attempts=3) as api:
        with pytest.raises(
            SourceError, match="after 3 attempts; nothing from this pull"
        ):
            await api.get("/x", where="usage page 2")

    assert len(seen) == 3


async def test_a_refused_key_is_not_retried_and_names_the_variable():
    transport, seen = scripted(
        json_response({"error": {"message": "invalid x-api-key"}}, status=401)
    )

    async with vendor(transport, Sleeps()) as api:
        with pytest.raises(SourceError, match=r"refused the key .*check VENDOR_KEY"):
            await api.get("/x", where="test")

    assert len(seen) == 1


async def test_a_wait_longer_than_allowed_fails_instead_of_hanging():
    transport, _ = scripted(httpx.Response(429, headers={"retry-after": "86400"}))
    sleeps = Sleeps()

    async with vendor(transport, sleeps) as api:
        with pytest.raises(SourceError, match="asks to wait 86400s"):
            await api.get("/x", where="test")

    assert sleeps.waits == []


async def test_github_rate_limit_waits_until_the_reset_time():
    reset = int(NOW.timestamp()) + 42
    limited = httpx.Response(
        403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    )
    transport, _ = scripted(limited, json_response({}))
    sleeps = Sleeps()

    async with vendor(transport, sleeps) as api:
        await api.get("/x", where="test")

    assert sleeps.waits == [42.0]


async def test_fractional_numbers_are_read_as_decimals():
    transport, _ = scripted(httpx.Response(200, content=b'{"amount": 412.8}'))

    async with vendor(transport, Sleeps()) as api:
        body, _ = await api.get("/x", where="test")

    assert str(body["amount"]) == "412.8"


def test_base_url_must_be_http():
    with pytest.raises(ConfigError, match="not an http"):
        VendorClient(vendor="Vendor", base_url="file:///etc")


async def collect(pages) -> list[dict]:
    return [page async for page in pages]


async def test_cursor_pages_follow_next_page_to_the_end():
    transport, seen = scripted(
        json_response({"data": [1], "has_more": True, "next_page": "p2"}),
        json_response({"data": [2], "has_more": True, "next_page": "p3"}),
        json_response({"data": [3], "has_more": False, "next_page": None}),
    )

    async with vendor(transport, Sleeps()) as api:
        found = await collect(cursor_pages(api, "/r", [("limit", 7)], where="report"))

    assert [page["data"] for page in found] == [[1], [2], [3]]
    assert [r.url.params.get("page") for r in seen] == [None, "p2", "p3"]


@pytest.mark.parametrize(
    "second",
    [
        {"data": [2], "has_more": True, "next_page": "p2"},  # repeats its cursor
        {"data": [2], "has_more": True, "next_page": None},  # more, but no cursor
        {"data": [2], "has_more": True},
    ],
    ids=["repeated", "null", "absent"],
)
async def test_broken_cursor_while_has_more_fails_loudly(second):
    transport, _ = scripted(
        json_response({"data": [1], "has_more": True, "next_page": "p2"}),
        json_response(second),
    )

    async with vendor(transport, Sleeps()) as api:
        with pytest.raises(PagingError, match="nothing from this pull was stored"):
            await collect(cursor_pages(api, "/r", [], where="report"))


async def test_id_pages_continue_after_the_last_id():
    transport, seen = scripted(
        json_response({"data": [{"id": "a"}], "has_more": True, "last_id": "a"}),
        json_response({"data": [{"id": "b"}], "has_more": False, "last_id": "b"}),
    )

    async with vendor(transport, Sleeps()) as api:
        found = await collect(id_pages(api, "/u", [], after="after_id", where="users"))

    assert len(found) == 2
    assert seen[1].url.params["after_id"] == "a"


def test_next_link_reads_the_rel_next_target():
    response = httpx.Response(
        200,
        headers={
            "link": '<https://h/x?page=2>; rel="next", <https://h/x?page=9>; rel="last"'
        },
    )

    assert next_link(response) == "https://h/x?page=2"
    assert next_link(httpx.Response(200)) is None
