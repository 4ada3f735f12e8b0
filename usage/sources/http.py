"""Talking to vendor APIs: one async client with retries, and the vendors' paging.

Every wait (backoff, ``Retry-After``, a rate-limit reset) goes through an
injected ``sleep`` and ``clock``, so tests run instantly and never read the
wall clock. Bodies are parsed with decimals for fractional numbers, so money
never passes through a float.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from usage.errors import ConfigError, PagingError, UserError
from usage.models import utcnow

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]
Params = Sequence[tuple[str, str | int]]

RETRY_STATUSES = frozenset({408, 500, 502, 503, 504, 529})
MAX_PAGES = 10_000
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([^";]+)"?')


class SourceError(UserError):
    """A vendor API refused or kept failing; the message says which and what next."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a transient failure."""

    attempts: int = 6
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_wait: float = 900.0  # a longer Retry-After fails the pull instead

    def backoff(self, attempt: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))


def check_base_url(url: str, *, vendor: str) -> str:
    """The base URL without a trailing slash; anything but http(s) is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"--base-url {url!r} for {vendor} is not an http(s) URL "
            "such as https://api.example.com"
        )
    return url.rstrip("/")


def decode_json(content: bytes) -> Any:
    """Parse a JSON body; fractional numbers become decimals."""
    return json.loads(content, parse_float=Decimal)


def retry_after(response: httpx.Response, *, now: datetime) -> float | None:
    """Seconds the server asked to wait (``Retry-After`` or a rate-limit reset)."""
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = response.headers.get("x-ratelimit-reset")
        if reset and reset.isdigit():
            return max(0.0, int(reset) - now.timestamp())
    return None


def _is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    # GitHub answers 403 for both its primary and secondary rate limits.
    return response.status_code == 403 and (
        "retry-after" in response.headers
        or response.headers.get("x-ratelimit-remaining") == "0"
    )


def _vendor_message(response: httpx.Response) -> str:
    try:
        body = decode_json(response.content)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or "")[:200]
    return str(body.get("message") or error or "")[:200]


@dataclass(frozen=True)
class _Retry:
    wait: float
    failure: str


class VendorClient:
    """An ``httpx.AsyncClient`` for one vendor that retries transient failures."""

    def __init__(
        self,
        *,
        vendor: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = utcnow,
        policy: RetryPolicy | None = None,
        key_hint: str = "",
    ):
        self.vendor = vendor
        self.base_url = check_base_url(base_url, vendor=vendor)
        self.sleep = sleep
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.key_hint = key_hint
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"user-agent": "aispend", **(headers or {})},
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(60.0),
            follow_redirects=False,
        )

    async def __aenter__(self) -> VendorClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.http.aclose()

    def same_origin(self, url: str) -> bool:
        mine, theirs = urlsplit(self.base_url), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    async def get(self, url: str, *, params: Params | None = None, where: str):
        return await self.request("GET", url, params=params, where=where)

    async def post(self, url: str, *, body: Mapping[str, Any], where: str):
        return await self.request("POST", url, body=body, where=where)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        where: str,
    ) -> tuple[Any, httpx.Response]:
        """The decoded JSON body and the response; transient failures are retried."""
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            outcome = await self._attempt(method, url, params, body, attempt)
            if not isinstance(outcome, _Retry):
                return outcome
            wait, failure = outcome.wait, outcome.failure
            if attempt == policy.attempts:
                raise SourceError(
                    f"{self.vendor} kept failing on {where} ({failure}) after "
                    f"{policy.attempts} attempts; nothing from this pull was stored. "
                    "Try again later."
                )
            if wait > policy.max_wait:
                raise SourceError(
                    f"{self.vendor} asks to wait {wait:.0f}s before {where}; nothing "
                    "from this pull was stored. Try again later."
                )
            logger.warning(
                "%s %s: %s; retrying in %.1fs (attempt %d of %d)",
                self.vendor,
                where,
                failure,
                wait,
                attempt,
                policy.attempts,
            )
            await self.sleep(wait)
        raise AssertionError("unreachable")

    async def _attempt(self, method, url, params, body, attempt):
        """One try: the decoded body and response, or a :class:`_Retry`."""
        backoff = self.policy.backoff(attempt)
        try:
            response = await self.http.request(method, url, params=params, json=body)
        except httpx.TransportError as exc:
            return _Retry(backoff, f"connection problem: {type(exc).__name__}")
        status = response.status_code
        if _is_rate_limited(response) or status in RETRY_STATUSES:
            asked = retry_after(response, now=self.clock())
            kind = "rate limited" if _is_rate_limited(response) else "server error"
            return _Retry(backoff if asked is None else asked, f"{kind} ({status})")
        if status >= 400:
            raise self._refused(response)
        try:
            return decode_json(response.content), response
        except ValueError:
            return _Retry(backoff, "a response that is not complete JSON")

    def _refused(self, response: httpx.Response) -> SourceError:
        status = response.status_code
        detail = _vendor_message(response)
        detail = f": {detail}" if detail else ""
        if status in (401, 403):
            hint = f"; check {self.key_hint}" if self.key_hint else ""
            return SourceError(
                f"{self.vendor} refused the key ({status}{detail}){hint}"
            )
        return SourceError(
            f"{self.vendor} rejected the request {response.request.url.path} "
            f"({status}{detail})"
        )


async def cursor_pages(
    client: VendorClient, path: str, params: Params, *, where: str
) -> AsyncIterator[dict]:
    """Pages of an endpoint paged by ``has_more`` and ``next_page`` (Anthropic, OpenAI).

    A page that says ``has_more`` without a fresh ``next_page`` is a broken
    contract: it raises :class:`PagingError` rather than end with a partial total.
    """
    seen: set[str] = set()
    token: str | None = None
    for number in range(1, MAX_PAGES + 1):
        query = [*params, ("page", token)] if token else list(params)
        page, _ = await client.get(path, params=query, where=f"{where} page {number}")
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise PagingError(f"{client.vendor} {where} page {number} has no data list")
        yield page
        if not page.get("has_more"):
            return
        token = page.get("next_page")
        if not token or not isinstance(token, str):
            raise PagingError(
                f"{client.vendor} {where} page {number} says has_more but gives no "
                "next_page; nothing from this pull was stored"
            )
        if token in seen:
            raise PagingError(
                f"{client.vendor} {where} page {number} repeats the cursor {token!r}; "
                "nothing from this pull was stored"
            )
        seen.add(token)
    raise PagingError(f"{client.vendor} {where} did not end after {MAX_PAGES} pages")


async def id_pages(
    client: VendorClient, path: str, params: Params, *, after: str, where: str
) -> AsyncIterator[dict]:
    """Pages of a list paged by ``has_more`` and the last id (users, API keys)."""
    seen: set[str] = set()
    last: str | None = None
    for number in range(1, MAX_PAGES + 1):
        query = [*params, (after, last)] if last else list(params)
        page, _ = await client.get(path, params=query, where=f"{where} page {number}")
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise PagingError(f"{client.vendor} {where} page {number} has no data list")
        yield page
        if not page.get("has_more"):
            return
        last = page.get("last_id") or (
            page["data"][-1].get("id") if page["data"] else None
        )
        if not last or last in seen:
            raise PagingError(
                f"{client.vendor} {where} page {number} says has_more but its last id "
                "is missing or repeats; nothing from this pull was stored"
            )
        seen.add(last)
    raise PagingError(f"{client.vendor} {where} did not end after {MAX_PAGES} pages")


def next_link(response: httpx.Response) -> str | None:
    """The ``rel="next"`` target of a ``Link`` header, if any."""
    for target, rel in _LINK.findall(response.headers.get("link", "")):
        if "next" in rel.split():
            return target
    return None
