"""``aispend ingest openai``: OpenAI organization usage and costs.

Completions usage comes in daily buckets per user, key, project, model and
batch flag. ``input_tokens`` there includes ``input_cached_tokens``; the
cached part is taken out and priced at the cache-read rate. There is no
per-user dollar figure, so per-person spend is tokens x prices. The costs
endpoint bills per project in dollars; it is kept for reconciliation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from usage.models import utcnow
from usage.pricing import Tokens
from usage.sources.billing import pull_costs
from usage.sources.http import Clock, Sleep, VendorClient, cursor_pages, id_pages
from usage.sources.identities import IdentityFact, key_map, remember
from usage.sources.pull import Pull, SliceContext, Window
from usage.sources.tabular import BadValue
from usage.sources.tabular import count_field as _count
from usage.store import ImportReport, UsageRow

SOURCE = "openai"
COST_SOURCE = "openai-costs"
TOOL = "openai-api"
DEFAULT_BASE_URL = "https://api.openai.com"
KEY_ENV = "OPENAI_ADMIN_KEY"

USER_KIND = "openai_user"
KEY_KIND = "openai_api_key"
NO_USER = "(no user)"

USAGE_PATH = "/v1/organization/usage/completions"
COSTS_PATH = "/v1/organization/costs"
USERS_PATH = "/v1/organization/users"
USAGE_GROUPS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
TIERS = {
    None: "standard",
    "default": "standard",
    "auto": "standard",
    "scale": "standard",
}
TIERS |= {"priority": "priority", "flex": "flex"}


def client(
    *,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = utcnow,
) -> VendorClient:
    """An organization API client (``Authorization: Bearer`` with an admin key)."""
    return VendorClient(
        vendor="OpenAI",
        base_url=base_url,
        headers={"authorization": f"Bearer {api_key}"},
        transport=transport,
        sleep=sleep,
        clock=clock,
        key_hint=f"{KEY_ENV} (an organization admin key)",
    )


def bucket_day(bucket: Mapping) -> date:
    return datetime.fromtimestamp(int(bucket["start_time"]), UTC).date()


async def daily_buckets(
    api: VendorClient, path: str, window: Window, *, groups, limit: int, where: str
) -> list[dict]:
    start, end = window.bounds(UTC)
    params = [
        ("start_time", int(start.timestamp())),
        ("end_time", int(end.timestamp())),
        ("bucket_width", "1d"),
        ("limit", limit),
        *(("group_by[]", name) for name in groups),
    ]
    return [
        bucket
        async for page in cursor_pages(api, path, params, where=where)
        for bucket in page["data"]
    ]


def _buckets_in(buckets, window: Window, report: ImportReport):
    for bucket in buckets:
        try:
            day = bucket_day(bucket)
        except (KeyError, TypeError, ValueError):
            report.reject(f"bucket {bucket.get('start_time')!r}", "no start time")
            continue
        if not window.start <= day < window.end:
            report.flag(f"bucket {day}", "outside the requested days; skipped")
            continue
        yield day, bucket


def usage_rows(
    buckets: list[dict], *, window: Window, report: ImportReport
) -> Iterator[UsageRow]:
    """Usage rows from completions buckets, cached input split out of input."""
    for day, bucket in _buckets_in(buckets, window, report):
        for index, result in enumerate(bucket.get("results") or []):
            report.rows_read += 1
            location = f"bucket {day} result {index + 1}"
            try:
                row = _usage_row(result, day=day, location=location)
            except BadValue as exc:
                report.reject(location, str(exc))
                continue
            if row.tokens.total == 0:
                report.blank += 1
                continue
            yield row


def _usage_row(result: Mapping, *, day: date, location: str) -> UsageRow:
    prompt = _count(result.get("input_tokens"), name="input_tokens")
    cached = _count(result.get("input_cached_tokens"), name="input_cached_tokens")
    if cached > prompt:
        raise BadValue("input_cached_tokens is larger than input_tokens")
    # TODO: audio tokens are priced as text because the price table has no audio
    # rates for these models yet.
    tokens = Tokens(
        input=prompt - cached,
        cache_read=cached,
        output=_count(result.get("output_tokens"), name="output_tokens"),
    )
    if result.get("user_id"):
        identity, kind = str(result["user_id"]), USER_KIND
    elif result.get("api_key_id"):
        identity, kind = str(result["api_key_id"]), KEY_KIND
    else:
        identity, kind = NO_USER, USER_KIND
    service_tier = result.get("service_tier")
    tier = (
        "batch" if result.get("batch") else TIERS.get(service_tier, str(service_tier))
    )
    parts = (
        day.isoformat(),
        result.get("project_id") or "",
        result.get("user_id") or "",
        result.get("api_key_id") or "",
        result.get("model") or "",
        "batch" if result.get("batch") else "",
        service_tier or "",
    )
    return UsageRow(
        source_key="|".join(parts),
        identity=identity,
        identity_kind=kind,
        tool=TOOL,
        model=str(result.get("model") or "unknown"),
        day=day,
        tokens=tokens,
        requests=_count(result.get("num_model_requests"), name="num_model_requests"),
        tier=tier,
        long_context=False,
        location=location,
    )


async def fetch_users(api: VendorClient) -> list[dict]:
    return [
        user
        async for page in id_pages(
            api, USERS_PATH, [("limit", "100")], after="after", where="users"
        )
        for user in page["data"]
        if isinstance(user, dict)
    ]


def identity_facts(users: list[dict], keys_to_people: dict[str, str]):
    for user in users:
        email = str(user.get("email") or "").strip().lower() or None
        yield IdentityFact(
            USER_KIND, str(user.get("id") or ""), email, user.get("name")
        )
    for key, email in keys_to_people.items():
        yield IdentityFact(KEY_KIND, key, email)


@dataclass
class UsagePage:
    buckets: list[dict]
    users: list[dict]


async def ingest_usage(
    sessions: async_sessionmaker[AsyncSession],
    *,
    api: VendorClient,
    since: date | None = None,
    until: date | None = None,
    clock: Clock = utcnow,
    slice_days: int = 31,
) -> ImportReport:
    """Pull completions usage and users; store priced, attributed buckets."""
    users: list[list[dict]] = []

    async def fetch(window: Window) -> UsagePage:
        buckets = await daily_buckets(
            api, USAGE_PATH, window, groups=USAGE_GROUPS, limit=31, where="usage"
        )
        if not users:
            users.append(await fetch_users(api))
        return UsagePage(buckets, users[0])

    async def store(context: SliceContext, fetched: UsagePage) -> None:
        facts = identity_facts(fetched.users, key_map(context.settings, SOURCE))
        await remember(context.session, facts)
        writer = await context.writer()
        rows = usage_rows(fetched.buckets, window=context.window, report=context.report)
        await writer.add_usage(list(rows), replace=True)
        await writer.finish(now=context.now)

    pull = Pull(
        source=SOURCE,
        origin=f"OpenAI usage at {api.base_url}",
        fetch=fetch,
        store=store,
        slice_days=slice_days,
        clock=clock,
    )
    return await pull.run(sessions, since=since, until=until)


def dollars(amount: object) -> Decimal:
    """``{"value": 412.8, "currency": "usd"}`` -> ``Decimal("412.8")``."""
    if not isinstance(amount, Mapping):
        raise BadValue("no amount")
    currency = str(amount.get("currency") or "usd").lower()
    if currency != "usd":
        raise BadValue(f"currency {currency} is not usd")
    value = amount.get("value")
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise BadValue(f"amount {value!r} is not a number")
    try:
        number = Decimal(str(value))
    except ArithmeticError as exc:
        raise BadValue(f"amount {value!r} is not a number") from exc
    if not number.is_finite():
        raise BadValue(f"amount {value!r} is not a number")
    return number


async def ingest_costs(
    sessions: async_sessionmaker[AsyncSession],
    *,
    api: VendorClient,
    since: date | None = None,
    until: date | None = None,
    clock: Clock = utcnow,
    slice_days: int = 31,
) -> ImportReport:
    """Pull billed costs per project into ``billed_costs`` (reconciliation)."""

    async def fetch(window: Window) -> list[dict]:
        return await daily_buckets(
            api, COSTS_PATH, window, groups=("project_id",), limit=180, where="costs"
        )

    return await pull_costs(
        sessions,
        source=COST_SOURCE,
        tool=TOOL,
        origin=f"OpenAI costs at {api.base_url}",
        fetch=fetch,
        days=_buckets_in,
        amount=lambda result: dollars(result.get("amount")),
        scope_field="project_id",
        since=since,
        until=until,
        clock=clock,
        slice_days=slice_days,
    )
