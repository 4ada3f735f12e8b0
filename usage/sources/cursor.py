"""``aispend ingest cursor``: Cursor Admin API usage events.

``POST /teams/filtered-usage-events`` returns events paged by ``page`` and
``pageSize``. Each event's ``totalCents`` is its cost: Cursor's own models
(``auto``) have no public token price, so events are never priced from
tokens. ``inputTokens`` excludes cache reads, which come separately; counts
sometimes arrive as strings.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from usage.errors import PagingError
from usage.models import utcnow
from usage.pricing import Tokens
from usage.settings import load_settings
from usage.sources.http import MAX_PAGES, Clock, Sleep, VendorClient
from usage.sources.pull import Pull, SliceContext, Window
from usage.sources.tabular import BadValue
from usage.sources.tabular import count_field as _count
from usage.store import ImportReport, UsageRow

SOURCE = "cursor"
TOOL = "cursor"
DEFAULT_BASE_URL = "https://api.cursor.com"
KEY_ENV = "CURSOR_API_KEY"
PATH = "/teams/filtered-usage-events"
PAGE_SIZE = 500
# Cursor serves at most 30 days of events per request.
SLICE_DAYS = 30


def client(
    *,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = utcnow,
) -> VendorClient:
    """An Admin API client (Basic auth, the key as user name)."""
    return VendorClient(
        vendor="Cursor",
        base_url=base_url,
        auth=(api_key, ""),
        transport=transport,
        sleep=sleep,
        clock=clock,
        key_hint=f"{KEY_ENV} (a Cursor Admin API key)",
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


async def fetch_events(
    api: VendorClient, window: Window, *, zone: tzinfo, page_size: int = PAGE_SIZE
) -> list[dict]:
    """Every usage event in ``window`` (days in ``zone``), all pages followed."""
    start, end = window.bounds(zone)
    events: list[dict] = []
    expected = None
    # TODO: pages are offsets, so an event logged mid-pull can shift one across a
    # page boundary; repeats collapse on their content key and a loss trips the
    # count check below, but the pull then has to be run again, because Cursor
    # offers no cursor that pins a snapshot.
    for page in range(1, MAX_PAGES + 1):
        body = {
            "startDate": _ms(start),
            "endDate": _ms(end) - 1,
            "page": page,
            "pageSize": page_size,
        }
        answer, _ = await api.post(PATH, body=body, where=f"usage events page {page}")
        batch = answer.get("usageEvents") if isinstance(answer, dict) else None
        if not isinstance(batch, list):
            raise PagingError(
                f"Cursor usage events page {page} has no usageEvents list"
            )
        events.extend(event for event in batch if isinstance(event, dict))
        paging = answer.get("pagination") or {}
        expected = answer.get("totalUsageEventsCount", expected)
        current = paging.get("currentPage", page)
        if current != page:
            raise PagingError(
                f"Cursor answered page {current} when asked for page {page}; "
                "nothing from this pull was stored"
            )
        if not _has_next(paging, batch, page_size):
            break
        if not batch:
            raise PagingError(
                f"Cursor usage events page {page} is empty but says more follow; "
                "nothing from this pull was stored"
            )
    else:
        raise PagingError(f"Cursor usage events did not end after {MAX_PAGES} pages")
    if isinstance(expected, int) and len(events) < expected:
        raise PagingError(
            f"Cursor reported {expected} events but its pages held {len(events)}; "
            "nothing from this pull was stored"
        )
    return events


def _has_next(paging: Mapping, batch: list, page_size: int) -> bool:
    if "hasNextPage" in paging:
        return bool(paging["hasNextPage"])
    if "numPages" in paging and "currentPage" in paging:
        return paging["currentPage"] < paging["numPages"]
    return len(batch) >= page_size


def event_key(event: Mapping) -> str:
    """A stable key: events carry no id, so their content is the identity."""
    digest = hashlib.sha256(
        json.dumps(event, sort_keys=True, default=str).encode()
    ).hexdigest()[:24]
    return f"{event.get('timestamp')}|{event.get('userEmail')}|{digest}"


def usage_rows(
    events: list[dict], *, window: Window, zone: tzinfo, report: ImportReport
) -> Iterator[UsageRow]:
    start, end = window.bounds(zone)
    for index, event in enumerate(events):
        report.rows_read += 1
        location = f"event {index + 1} ({event.get('timestamp')})"
        try:
            row = _usage_row(event, location=location, report=report)
        except BadValue as exc:
            report.reject(location, str(exc))
            continue
        if not start <= row.occurred_at < end:
            report.flag(location, "outside the requested days; skipped")
            continue
        yield row


def _usage_row(event: Mapping, *, location: str, report: ImportReport) -> UsageRow:
    try:
        moment = datetime.fromtimestamp(int(str(event.get("timestamp"))) / 1000, UTC)
    except ValueError as exc:
        raise BadValue(f"timestamp {event.get('timestamp')!r} is not epoch ms") from exc
    email = str(event.get("userEmail") or "").strip().lower()
    if not email:  # kept, shown to admins as unattributed, never dropped
        report.flag(location, "no userEmail; kept as unattributed")
        email = "unknown"
    usage = event.get("tokenUsage") or {}
    cents = usage.get("totalCents")
    if cents is None:
        report.flag(location, "no totalCents; kept at $0 with its tokens")
        cost = Decimal(0)
    else:
        try:
            cost = Decimal(str(cents)) / 100
        except InvalidOperation as exc:
            raise BadValue(f"totalCents {cents!r} is not a number") from exc
    return UsageRow(
        source_key=event_key(event),
        identity=email,
        identity_kind="email" if email != "unknown" else "cursor_user",
        tool=TOOL,
        model=str(event.get("model") or "unknown"),
        occurred_at=moment,
        tokens=Tokens(
            input=_count(usage.get("inputTokens"), name="inputTokens"),
            cache_read=_count(usage.get("cacheReadTokens"), name="cacheReadTokens"),
            cache_write_5m=_count(
                usage.get("cacheWriteTokens"), name="cacheWriteTokens"
            ),
            output=_count(usage.get("outputTokens"), name="outputTokens"),
        ),
        source_cost=cost,
        price_from_tokens=False,
        location=location,
    )


async def ingest(
    sessions: async_sessionmaker[AsyncSession],
    *,
    api: VendorClient,
    since: date | None = None,
    until: date | None = None,
    clock: Clock = utcnow,
    slice_days: int = SLICE_DAYS,
    page_size: int = PAGE_SIZE,
) -> ImportReport:
    """Pull usage events; each one's ``totalCents`` is its spend."""
    async with sessions() as session:
        zone = (await load_settings(session)).reporting_zone

    async def store(context: SliceContext, events: list[dict]) -> None:
        writer = await context.writer()
        rows = usage_rows(
            events, window=context.window, zone=zone, report=context.report
        )
        await writer.add_usage(list(rows))
        await writer.finish(now=context.now)

    pull = Pull(
        source=SOURCE,
        origin=f"Cursor usage events at {api.base_url}",
        fetch=lambda window: fetch_events(api, window, zone=zone, page_size=page_size),
        store=store,
        slice_days=min(slice_days, SLICE_DAYS),
        clock=clock,
    )
    return await pull.run(sessions, since=since, until=until, zone=zone)
