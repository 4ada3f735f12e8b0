"""``aispend ingest github --org ORG``: merged pull requests per person (output context).

The search API returns at most 1,000 results per query and may flag a
response ``incomplete_results``; such a date range is split in halves until
every slice is complete. Pages follow the ``Link: <…>; rel="next"`` header,
and only to the same host (the token is never sent elsewhere). Pull requests
by bots are not counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from usage.errors import PagingError, UserError
from usage.models import utcnow
from usage.settings import load_settings
from usage.sources.http import (
    MAX_PAGES,
    Clock,
    Sleep,
    SourceError,
    VendorClient,
    next_link,
)
from usage.sources.pull import Pull, SliceContext, Window
from usage.sources.tabular import BadValue, parse_instant_or_date
from usage.store import ImportReport, OutputRow

DEFAULT_BASE_URL = "https://api.github.com"
KEY_ENV = "GITHUB_TOKEN"
PATH = "/search/issues"
SEARCH_CAP = 1000
PER_PAGE = 100
METRIC = "prs_merged"
SMALLEST_SLICE = timedelta(minutes=1)


def source_name(org: str) -> str:
    return f"github:{org.strip().lower()}"[:40]


def check_org(org: str) -> str:
    org = (org or "").strip()
    if not org or not all(ch.isalnum() or ch in "-_." for ch in org):
        raise UserError(f"--org {org!r} is not a GitHub organisation name")
    return org


def client(
    *,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = utcnow,
) -> VendorClient:
    return VendorClient(
        vendor="GitHub",
        base_url=base_url,
        headers={
            "authorization": f"Bearer {api_key}",
            "accept": "application/vnd.github+json",
            "x-github-api-version": "2022-11-28",
        },
        transport=transport,
        sleep=sleep,
        clock=clock,
        key_hint=f"{KEY_ENV} (a token that can read the organisation)",
    )


def _is_midnight_utc(moment: datetime) -> bool:
    return moment.utcoffset() == timedelta(0) and moment.time() == time()


def merged_range(start: datetime, end: datetime) -> str:
    """A ``merged:`` qualifier for ``[start, end)``; GitHub's ranges include both ends."""
    if _is_midnight_utc(start) and _is_midnight_utc(end):
        return f"{start.date().isoformat()}..{(end - timedelta(days=1)).date().isoformat()}"
    last = end - timedelta(seconds=1)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return f"{start.astimezone(UTC).strftime(stamp)}..{last.astimezone(UTC).strftime(stamp)}"


def halves(start: datetime, end: datetime) -> tuple[datetime, datetime, datetime]:
    span = end - start
    if span.days >= 2:
        middle = start + timedelta(days=span.days // 2)
    else:
        middle = (start + span / 2).replace(microsecond=0)
    return start, middle, end


class Search:
    """Merged pull requests of one organisation, split under the result cap."""

    def __init__(self, api: VendorClient, org: str, *, cap: int = SEARCH_CAP):
        self.api = api
        self.org = org
        self.cap = cap
        self.queries = 0

    async def merged(self, start: datetime, end: datetime) -> list[dict]:
        """Every merged pull request in ``[start, end)``."""
        found = await self._query(start, end)
        if found is not None:
            return found
        if end - start <= SMALLEST_SLICE:
            raise SourceError(
                f"GitHub search cannot list the merged pull requests of {self.org} "
                f"between {start.isoformat()} and {end.isoformat()} completely, even "
                "in the smallest slice; try again later"
            )
        first, middle, last = halves(start, end)
        return await self.merged(first, middle) + await self.merged(middle, last)

    async def _query(self, start: datetime, end: datetime) -> list[dict] | None:
        """The range's items, or None when it must be split (capped or incomplete)."""
        query = f"org:{self.org} is:pr is:merged merged:{merged_range(start, end)}"
        url, params = PATH, [("q", query), ("per_page", PER_PAGE)]
        items: dict[str, dict] = {}
        total = None
        visited: set[str] = set()
        for number in range(1, MAX_PAGES + 1):
            self.queries += 1
            where = f"search {merged_range(start, end)} page {number}"
            body, response = await self.api.get(url, params=params, where=where)
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise PagingError(f"GitHub {where} has no items list")
            total = body.get("total_count", 0) if total is None else total
            if total > self.cap or body.get("incomplete_results"):
                return None
            for item in body["items"]:
                if isinstance(item, dict):
                    items[item_key(item)] = item
            link = next_link(response)
            if not link:
                break
            if not self.api.same_origin(link):
                raise PagingError(
                    "GitHub's next-page link points at another host; the token is "
                    "not sent there and nothing from this pull was stored"
                )
            if link in visited:
                raise PagingError(f"GitHub {where} links back to a page already read")
            visited.add(link)
            url, params = link, None
        if len(items) < total:
            raise PagingError(
                f"GitHub said {total} pull requests match {merged_range(start, end)} "
                f"but its pages held {len(items)}; nothing from this pull was stored"
            )
        return list(items.values())


def item_key(item: Mapping) -> str:
    return str(
        item.get("html_url") or f"{item.get('repository_url')}#{item.get('number')}"
    )


def is_bot(user: Mapping) -> bool:
    login = str(user.get("login") or "")
    return user.get("type") == "Bot" or login.endswith("[bot]")


def output_rows(
    items: list[dict], *, window: Window, zone: tzinfo, report: ImportReport
) -> Iterator[OutputRow]:
    start, end = window.bounds(zone)
    for item in items:
        report.rows_read += 1
        location = item_key(item)
        user = item.get("user") or {}
        if is_bot(user):
            report.flag(location, f"opened by the bot {user.get('login')}; not counted")
            continue
        merged = (item.get("pull_request") or {}).get("merged_at")
        try:
            moment = parse_instant_or_date(str(merged or ""))
        except BadValue:
            report.reject(location, "no merged_at time")
            continue
        if not isinstance(moment, datetime) or not start <= moment < end:
            report.flag(location, "merged outside the requested days; skipped")
            continue
        yield OutputRow(
            source_key=location,
            identity=str(user.get("login") or "unknown"),
            identity_kind="github",
            day=moment.astimezone(zone).date(),
            metric=METRIC,
            value=1,
            location=location,
        )


async def ingest(
    sessions: async_sessionmaker[AsyncSession],
    *,
    api: VendorClient,
    org: str,
    since: date | None = None,
    until: date | None = None,
    clock: Clock = utcnow,
    slice_days: int = 31,
    cap: int = SEARCH_CAP,
) -> ImportReport:
    """Pull merged pull requests of ``org``, one output count per pull request."""
    org = check_org(org)
    async with sessions() as session:
        zone = (await load_settings(session)).reporting_zone
    search = Search(api, org, cap=cap)

    async def fetch(window: Window) -> list[dict]:
        return await search.merged(*window.bounds(zone))

    async def store(context: SliceContext, items: list[dict]) -> None:
        writer = await context.writer()
        rows = output_rows(
            items, window=context.window, zone=zone, report=context.report
        )
        await writer.add_output(list(rows), replace=True)
        await writer.finish(now=context.now)

    pull = Pull(
        source=source_name(org),
        origin=f"GitHub search of {org} at {api.base_url}",
        fetch=fetch,
        store=store,
        slice_days=slice_days,
        clock=clock,
    )
    return await pull.run(sessions, since=since, until=until, zone=zone)
