"""An async Slack Web API client that waits out rate limits and sorts errors.

Every wait goes through an injectable ``sleep`` so tests never really sleep.
Errors are sorted the way Slack documents them:

- the recipient cannot receive (not found, deactivated, a bot): skip it;
- the token is gone or lacks a scope: stop sending for this installation;
- the message itself is malformed: fall back to plain text;
- Slack is briefly unwell: retry with backoff;
- anything else: report it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from usage.errors import ConfigError

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

SKIP_ERRORS = frozenset(
    {
        "users_not_found",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "channel_not_found",
    }
)
STOP_ERRORS = frozenset(
    {"invalid_auth", "token_revoked", "account_inactive", "missing_scope", "not_authed"}
)
FALLBACK_ERRORS = frozenset({"invalid_blocks", "msg_too_long"})
TRANSIENT_ERRORS = frozenset(
    {"fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)
GET_METHODS = frozenset(
    {
        "users.info",
        "users.lookupByEmail",
        "conversations.history",
        "usergroups.users.list",
    }
)
DEFAULT_RETRY_AFTER = 1.0
MAX_BACKOFF = 60.0


class SlackError(Exception):
    """A Web API call failed; ``error`` is Slack's error code."""

    def __init__(self, method: str, error: str, *, detail: str = ""):
        super().__init__(f"{method}: {error}" + (f" ({detail})" if detail else ""))
        self.method = method
        self.error = error
        self.detail = detail


class RecipientUnavailable(SlackError):
    """This person or channel cannot receive messages; skip and record why."""


class DeliveryStopped(SlackError):
    """The token is unusable; stop sending for this installation and tell an admin."""


class BadMessage(SlackError):
    """Slack refused the message's blocks; send it as plain text instead."""


class UncertainDelivery(SlackError):
    """A send failed in a way that may still have posted the message."""


class TransientFailure(SlackError):
    """Slack kept failing after every retry; try again later."""


def retry_after_seconds(headers: Mapping[str, str] | None) -> float:
    """Seconds to wait from a ``Retry-After`` header (a missing one means 1 s)."""
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    try:
        return max(float(value), 0.0) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER


class SlackClient:
    """Web API calls with Retry-After waits, backoff and error classes."""

    def __init__(
        self,
        *,
        token: str,
        base_url: str | None = None,
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_rate_limit_waits: int = 20,
        timeout: int = 30,
    ):
        url = base_url or "https://slack.com/api/"
        self.web = AsyncWebClient(
            token=token,
            base_url=url if url.endswith("/") else url + "/",
            timeout=timeout,
            retry_handlers=[],  # retries happen here, through the injected sleep
        )
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_rate_limit_waits = max_rate_limit_waits
        self.waited: list[float] = []  # every wait, for reports and tests

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, sleep: Sleep = asyncio.sleep
    ) -> SlackClient:
        """A client for ``SLACK_BOT_TOKEN`` at ``SLACK_API_URL`` (default: Slack's)."""
        env = os.environ if env is None else env
        token = env.get("SLACK_BOT_TOKEN")
        if not token:
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set; sends need the bot token (xoxb-…)"
            )
        return cls(token=token, base_url=env.get("SLACK_API_URL") or None, sleep=sleep)

    def _backoff(self, attempt: int) -> float:
        return min(self.base_delay * 2 ** (attempt - 1), MAX_BACKOFF)

    async def _wait(self, seconds: float) -> None:
        self.waited.append(seconds)
        await self.sleep(seconds)

    async def call(
        self, method: str, *, idempotent: bool = True, **args: Any
    ) -> dict[str, Any]:
        """Call ``method``; returns Slack's answer or raises a :class:`SlackError`.

        A call that is not ``idempotent`` (posting a message) is never retried
        after a failure that may have reached Slack; it raises
        :class:`UncertainDelivery` so the caller can check before sending again.
        """
        attempt = 0
        rate_waits = 0
        while True:
            attempt += 1
            try:
                return await self._send(method, args)
            except SlackApiError as exc:
                status, error, headers, data = _parts(exc)
                if status == 429 or error == "ratelimited":
                    rate_waits += 1
                    if rate_waits > self.max_rate_limit_waits:
                        raise TransientFailure(method, "ratelimited") from exc
                    delay = retry_after_seconds(headers)
                    logger.warning("%s rate limited; waiting %.0f s", method, delay)
                    await self._wait(delay)
                    attempt -= 1
                    continue
                self._raise_final(method, error, data, exc)
                if not idempotent:
                    raise UncertainDelivery(method, error) from exc
                if attempt >= self.max_attempts:
                    raise TransientFailure(method, error) from exc
                logger.warning("%s failed with %s; retry %d", method, error, attempt)
            except aiohttp.ClientConnectorError as exc:
                # Nothing reached Slack, so even a post may be retried.
                if attempt >= self.max_attempts:
                    raise TransientFailure(method, "connection_failed") from exc
                logger.warning("%s could not connect; retry %d", method, attempt)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if not idempotent:
                    raise UncertainDelivery(method, type(exc).__name__) from exc
                if attempt >= self.max_attempts:
                    raise TransientFailure(method, type(exc).__name__) from exc
                logger.warning("%s: %s; retry %d", method, type(exc).__name__, attempt)
            await self._wait(self._backoff(attempt))

    async def _send(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method in GET_METHODS:
            response = await self.web.api_call(method, http_verb="GET", params=args)
        else:
            response = await self.web.api_call(method, json=args)
        return dict(response.data)

    @staticmethod
    def _raise_final(method: str, error: str, data: dict, exc: Exception) -> None:
        """Raise at once for errors a retry cannot fix."""
        if error in SKIP_ERRORS:
            raise RecipientUnavailable(method, error) from exc
        if error in STOP_ERRORS:
            raise DeliveryStopped(method, error) from exc
        if error in FALLBACK_ERRORS:
            messages = (data.get("response_metadata") or {}).get("messages") or []
            raise BadMessage(method, error, detail="; ".join(messages)[:500]) from exc
        if error not in TRANSIENT_ERRORS and not error.startswith("http_5"):
            raise SlackError(method, error) from exc

    # -- the calls the bot makes ----------------------------------------------

    async def auth_test(self) -> dict[str, Any]:
        return await self.call("auth.test")

    async def user_info(self, user_id: str) -> dict[str, Any]:
        return (await self.call("users.info", user=user_id))["user"]

    async def lookup_by_email(self, email: str) -> dict[str, Any]:
        answer = await self.call("users.lookupByEmail", email=email.strip().lower())
        return answer["user"]

    async def open_dm(self, user_id: str) -> str:
        return (await self.call("conversations.open", users=user_id))["channel"]["id"]

    async def post_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict] | None = None,
        metadata: dict | None = None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            args["blocks"] = blocks
        if metadata:
            args["metadata"] = metadata
        return await self.call("chat.postMessage", idempotent=False, **args)

    async def update_message(
        self, channel: str, ts: str, *, text: str, blocks: list[dict] | None = None
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"channel": channel, "ts": ts, "text": text}
        if blocks is not None:
            args["blocks"] = blocks
        return await self.call("chat.update", **args)

    async def history(
        self, channel: str, *, oldest: str = "0", limit: int = 100
    ) -> list[dict[str, Any]]:
        answer = await self.call(
            "conversations.history",
            channel=channel,
            oldest=oldest,
            limit=limit,
            include_all_metadata=True,
        )
        return answer.get("messages") or []

    async def usergroup_members(self, usergroup: str) -> list[str]:
        answer = await self.call("usergroups.users.list", usergroup=usergroup)
        return list(answer.get("users") or [])

    async def publish_home(self, user_id: str, view: dict) -> dict[str, Any]:
        return await self.call("views.publish", user_id=user_id, view=view)

    async def open_view(self, trigger_id: str, view: dict) -> dict[str, Any]:
        return await self.call("views.open", trigger_id=trigger_id, view=view)

    async def open(self) -> None:
        """Share one pool of kept-alive connections between calls until
        :meth:`close`; without it each call opens and closes its own."""
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
            self.web.session = self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
            self.web.session = None

    async def respond(self, response_url: str, message: dict[str, Any]) -> bool:
        """Post ``message`` to a slash command's ``response_url``; False when
        Slack did not take it (the reason is logged, the message is not)."""
        hook = AsyncWebhookClient(
            url=response_url, session=self._http, timeout=self.timeout
        )
        try:
            response = await hook.send_dict(message)
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("response_url post failed: %s", type(exc).__name__)
            return False
        if response.status_code != 200:
            logger.warning("response_url answered HTTP %d", response.status_code)
            return False
        return True


def _parts(exc: SlackApiError) -> tuple[int, str, Mapping[str, str], dict]:
    response = exc.response
    status = getattr(response, "status_code", 0) or 0
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    error = data.get("error") or f"http_{status}"
    headers = getattr(response, "headers", None) or {}
    return status, error, headers, data
