"""``aispend ingest anthropic``: the Anthropic Admin API usage and cost reports.

The usage report gives daily token buckets per API key, model, service tier
and context window; they are priced from the price table (input there
excludes cache reads and writes; 1-hour cache writes, batch and long-context
tiers price differently). Keys are attributed to the people who created them,
unless ``[sources.anthropic.key_map]`` says otherwise. The cost report bills
per workspace in cents; it is kept for reconciliation, never counted as spend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from usage.models import utcnow
from usage.pricing import Tokens
from usage.settings import Settings
from usage.sources.billing import pull_costs
from usage.sources.http import Clock, Sleep, VendorClient, cursor_pages, id_pages
from usage.sources.identities import IdentityFact, key_map, remember
from usage.sources.pull import Pull, SliceContext, Window
from usage.sources.tabular import BadValue
from usage.sources.tabular import count_field as _count
from usage.store import ImportReport, UsageRow

SOURCE = "anthropic"
COST_SOURCE = "anthropic-costs"
TOOL = "anthropic-api"
DEFAULT_BASE_URL = "https://api.anthropic.com"
KEY_ENV = "ANTHROPIC_ADMIN_KEY"
API_VERSION = "2023-06-01"

KEY_KIND = "anthropic_api_key"
KEY_NAME_KIND = "anthropic_api_key_name"
USER_KIND = "anthropic_user"
NO_KEY = "(no key)"

USAGE_PATH = "/v1/organizations/usage_report/messages"
COST_PATH = "/v1/organizations/cost_report"
USERS_PATH = "/v1/organizations/users"
KEYS_PATH = "/v1/organizations/api_keys"
USAGE_GROUPS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window")
TIERS = {
    None: "standard",
    "standard": "standard",
    "batch": "batch",
    "priority": "priority",
    "priority_on_demand": "priority",
    "flex": "flex",
    "flex_discount": "flex",
}


def client(
    *,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = utcnow,
) -> VendorClient:
    """An Admin API client (``x-api-key`` with an ``sk-ant-admin`` key)."""
    return VendorClient(
        vendor="Anthropic",
        base_url=base_url,
        headers={"x-api-key": api_key, "anthropic-version": API_VERSION},
        transport=transport,
        sleep=sleep,
        clock=clock,
        key_hint=f"{KEY_ENV} (an Admin API key, sk-ant-admin…)",
    )


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bucket_day(bucket: Mapping) -> date:
    """The UTC date a daily bucket was billed under."""
    return date.fromisoformat(str(bucket.get("starting_at", ""))[:10])


async def daily_buckets(
    api: VendorClient, path: str, window: Window, *, groups, where: str
) -> list[dict]:
    """Every daily bucket of a report over ``window``, all pages followed."""
    start, end = window.bounds(UTC)
    params = [
        ("starting_at", rfc3339(start)),
        ("ending_at", rfc3339(end)),
        ("bucket_width", "1d"),
        ("limit", "31"),
        *(("group_by[]", name) for name in groups),
    ]
    return [
        bucket
        async for page in cursor_pages(api, path, params, where=where)
        for bucket in page["data"]
    ]


# -- directory: users and keys ----------------------------------------------


@dataclass
class Directory:
    users: list[dict] = field(default_factory=list)
    keys: list[dict] = field(default_factory=list)


async def fetch_directory(api: VendorClient) -> Directory:
    """The organisation's users and API keys (to attribute keys to creators)."""
    found = Directory()
    for path, target in ((USERS_PATH, found.users), (KEYS_PATH, found.keys)):
        name = path.rsplit("/", 1)[-1].replace("_", " ")
        async for page in id_pages(
            api, path, [("limit", "1000")], after="after_id", where=name
        ):
            target.extend(item for item in page["data"] if isinstance(item, dict))
    return found


def directory_facts(directory: Directory, keys_to_people: dict[str, str]):
    """Identities for users and keys; the settings' key map wins over creators."""
    emails = {}
    for user in directory.users:
        email = str(user.get("email") or "").strip().lower() or None
        emails[user.get("id")] = email
        yield IdentityFact(
            USER_KIND, str(user.get("id") or ""), email, user.get("name")
        )
    for key in directory.keys:
        key_id, name = str(key.get("id") or ""), str(key.get("name") or "")
        creator = (key.get("created_by") or {}).get("id")
        email = keys_to_people.get(key_id) or keys_to_people.get(name)
        email = email or emails.get(creator)
        yield IdentityFact(KEY_KIND, key_id, email, name)
        if name:
            yield IdentityFact(KEY_NAME_KIND, name, email, key_id)
    listed = {str(key.get("id")) for key in directory.keys}
    listed |= {str(key.get("name")) for key in directory.keys}
    for key, email in keys_to_people.items():
        if key not in listed:  # a key that is gone from the list, or a name
            yield IdentityFact(KEY_KIND, key, email)
            yield IdentityFact(KEY_NAME_KIND, key, email)


def key_tools(settings: Settings) -> dict[str, str]:
    """``[sources.anthropic.key_tools]``: keys whose traffic belongs to another tool."""
    raw = settings.get("sources.anthropic.key_tools", {}) or {}
    return {str(key): str(tool) for key, tool in raw.items()}


# -- usage report -------------------------------------------------------------


def _long_context(window_name: object) -> bool:
    """``0-200k`` is the standard tier; any other range bills at the long-context rate."""
    return bool(window_name) and not str(window_name).startswith("0-")


def usage_rows(
    buckets: list[dict], *, window: Window, report: ImportReport, tools: dict[str, str]
) -> Iterator[UsageRow]:
    """Usage rows from daily buckets; a bucket outside the window is skipped."""
    for bucket in buckets:
        try:
            day = bucket_day(bucket)
        except ValueError:
            report.reject(f"bucket {bucket.get('starting_at')!r}", "no start date")
            continue
        if not window.start <= day < window.end:
            report.flag(f"bucket {day}", "outside the requested days; skipped")
            continue
        for index, result in enumerate(bucket.get("results") or []):
            report.rows_read += 1
            location = f"bucket {day} result {index + 1}"
            try:
                row = _usage_row(result, day=day, location=location, tools=tools)
            except BadValue as exc:
                report.reject(location, str(exc))
                continue
            if row.tokens.total == 0:
                report.blank += 1
                continue
            yield row


def _usage_row(result: Mapping, *, day: date, location: str, tools) -> UsageRow:
    cache = result.get("cache_creation") or {}
    tokens = Tokens(
        input=_count(result.get("uncached_input_tokens"), name="uncached_input_tokens"),
        cache_read=_count(result.get("cache_read_input_tokens"), name="cache reads"),
        cache_write_5m=_count(cache.get("ephemeral_5m_input_tokens"), name="5m writes"),
        cache_write_1h=_count(cache.get("ephemeral_1h_input_tokens"), name="1h writes"),
        output=_count(result.get("output_tokens"), name="output_tokens"),
    )
    key = result.get("api_key_id") or NO_KEY
    tier = result.get("service_tier")
    parts = (
        day.isoformat(),
        key,
        result.get("workspace_id") or "",
        result.get("model") or "",
        tier or "",
        result.get("context_window") or "",
        result.get("inference_geo") or "",
    )
    # TODO: web search requests (server_tool_use) are not priced because the
    # price table format has no per-request rate.
    return UsageRow(
        source_key="|".join(parts),
        identity=key,
        identity_kind=KEY_KIND,
        tool=tools.get(key, TOOL),
        model=str(result.get("model") or "unknown"),
        day=day,
        tokens=tokens,
        requests=0,
        tier=TIERS.get(tier, str(tier)),
        long_context=_long_context(result.get("context_window")),
        location=location,
    )


@dataclass
class UsagePage:
    buckets: list[dict]
    directory: Directory


async def store_usage(context: SliceContext, fetched: UsagePage) -> None:
    settings = context.settings
    facts = directory_facts(fetched.directory, key_map(settings, SOURCE))
    await remember(context.session, facts)
    writer = await context.writer()
    rows = usage_rows(
        fetched.buckets,
        window=context.window,
        report=context.report,
        tools=key_tools(settings),
    )
    await writer.add_usage(list(rows), replace=True)
    await writer.finish(now=context.now)


async def ingest_usage(
    sessions: async_sessionmaker[AsyncSession],
    *,
    api: VendorClient,
    since: date | None = None,
    until: date | None = None,
    clock: Clock = utcnow,
    slice_days: int = 31,
) -> ImportReport:
    """Pull the usage report, users and keys; store priced, attributed buckets."""
    directory: list[Directory] = []

    async def fetch(window: Window) -> UsagePage:
        buckets = await daily_buckets(
            api, USAGE_PATH, window, groups=USAGE_GROUPS, where="usage report"
        )
        if not directory:
            directory.append(await fetch_directory(api))
        return UsagePage(buckets, directory[0])

    pull = Pull(
        source=SOURCE,
        origin=f"Anthropic usage report at {api.base_url}",
        fetch=fetch,
        store=store_usage,
        slice_days=slice_days,
        clock=clock,
    )
    return await pull.run(sessions, since=since, until=until)


# -- cost report ----------------------------------------------------------------


def cents_to_usd(amount: object) -> Decimal:
    """``"123.45"`` (cents, the lowest currency unit) -> ``Decimal("1.2345")`` dollars."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise BadValue(f"amount {amount!r} is not a number") from exc
    if not value.is_finite():
        raise BadValue(f"amount {amount!r} is not a number")
    return value / 100


def _cost_days(buckets: list[dict], window: Window, report: ImportReport):
    for bucket in buckets:
        try:
            day = bucket_day(bucket)
        except ValueError:
            report.reject(f"bucket {bucket.get('starting_at')!r}", "no start date")
            continue
        if not window.start <= day < window.end:
            report.flag(f"bucket {day}", "outside the requested days; skipped")
            continue
        yield day, bucket


def _billed_amount(result: Mapping) -> Decimal:
    currency = str(result.get("currency") or "USD").upper()
    if currency != "USD":
        raise BadValue(f"currency {currency} is not USD")
    return cents_to_usd(result.get("amount"))


async def ingest_costs(
    sessions: async_sessionmaker[AsyncSession],
    *,
    api: VendorClient,
    since: date | None = None,
    until: date | None = None,
    clock: Clock = utcnow,
    slice_days: int = 31,
) -> ImportReport:
    """Pull the cost report into ``billed_costs`` (reconciliation, not spend)."""

    async def fetch(window: Window) -> list[dict]:
        return await daily_buckets(
            api, COST_PATH, window, groups=("workspace_id",), where="cost report"
        )

    return await pull_costs(
        sessions,
        source=COST_SOURCE,
        tool=TOOL,
        origin=f"Anthropic cost report at {api.base_url}",
        fetch=fetch,
        days=_cost_days,
        amount=_billed_amount,
        scope_field="workspace_id",
        since=since,
        until=until,
        clock=clock,
        slice_days=slice_days,
    )
