"""The Bolt app: built once, with every feature module registering its listeners."""

from __future__ import annotations

import logging
import secrets

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot import home, nudge_actions, settings_modal, slash
from bot.services import Services

logger = logging.getLogger(__name__)
bolt_logger = logging.getLogger("bot.bolt")
# NOTE: Bolt reads SLACK_BOT_TOKEN from the environment even when the app is
# given an authorize function and a client, and then warns that it ignores it.
bolt_logger.addFilter(lambda record: "will be unused" not in record.getMessage())

SLACK_API_URL = "https://slack.com/api/"


def build_app(
    services: Services,
    *,
    token: str,
    signing_secret: str = "",
    api_url: str | None = None,
    bot_user_id: str | None = None,
    socket_mode: bool = False,
) -> AsyncApp:
    """An AsyncApp for one workspace's bot token; HTTP requests must be signed."""
    client = AsyncWebClient(
        base_url=_with_slash(api_url or SLACK_API_URL),
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
    )

    async def authorize(enterprise_id, team_id, user_id, **_) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            bot_token=token,
            bot_user_id=bot_user_id,
        )

    app = AsyncApp(
        signing_secret=signing_secret,
        authorize=authorize,
        client=client,
        process_before_response=False,
        request_verification_enabled=not socket_mode,
        logger=bolt_logger,
    )
    app.error(_log_error)
    for feature in (slash, home, settings_modal):
        feature.register(app, services)
    nudge_actions.register(app, sessions=services.sessions, clock=services.clock)
    return app


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


async def _log_error(error: Exception, body: dict) -> None:
    reference = secrets.token_hex(3)
    logger.error(
        "listener failed (reference %s, %s)",
        reference,
        body.get("type") or body.get("command") or "request",
        exc_info=error,
    )
