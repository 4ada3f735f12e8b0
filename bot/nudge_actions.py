"""Bolt listeners for the buttons on nudges and alerts.

Each listener acks at once, records the answer through the pure functions in
:mod:`digests.nudges` / :mod:`digests.alerts`, and updates the message in place.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from digests import alerts, nudges
from usage.db import make_engine, make_sessionmaker
from usage.errors import UserError
from usage.ingest import begin_write
from usage.models import utcnow
from usage.settings import load_settings

logger = logging.getLogger(__name__)

NUDGE_ACTIONS = re.compile(r"^aispend_nudge_(thanks|snooze|why|stop)$")
ALERT_ACTIONS = re.compile(r"^aispend_alert_(expected|not_expected)$")


def register(
    app: AsyncApp,
    *,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Add the nudge and alert button listeners to ``app``."""
    state: dict[str, async_sessionmaker[AsyncSession]] = {}

    def database() -> async_sessionmaker[AsyncSession]:
        if sessions is not None:
            return sessions
        if "sessions" not in state:
            state["sessions"] = make_sessionmaker(make_engine())
        return state["sessions"]

    @app.action(NUDGE_ACTIONS)
    async def on_nudge_button(ack, body, client, respond):
        await ack()
        action = NUDGE_ACTIONS.match(body["actions"][0]["action_id"])[1]
        try:
            async with database()() as session:
                await begin_write(session)
                settings = await load_settings(session)
                now = clock()
                message = await nudges.handle_response(
                    session,
                    ledger_id=int(body["actions"][0].get("value") or 0),
                    action=action,
                    today=now.astimezone(settings.reporting_zone).date(),
                    now=now,
                    slack_user_id=body["user"]["id"],
                )
                await session.commit()
        except UserError as exc:
            await respond(
                text=str(exc), response_type="ephemeral", replace_original=False
            )
            return
        await _update(client, body, message)

    @app.action(ALERT_ACTIONS)
    async def on_alert_button(ack, body, client, respond):
        await ack()
        action = ALERT_ACTIONS.match(body["actions"][0]["action_id"])[1]
        try:
            async with database()() as session:
                await begin_write(session)
                message = await alerts.handle_alert_response(
                    session,
                    ledger_id=int(body["actions"][0].get("value") or 0),
                    action=action,
                    now=clock(),
                    actor=body["user"]["id"],
                )
                await session.commit()
        except UserError as exc:
            await respond(
                text=str(exc), response_type="ephemeral", replace_original=False
            )
            return
        await _update(client, body, message)


async def _update(client, body, message) -> None:
    channel = (body.get("channel") or {}).get("id") or (
        body.get("container") or {}
    ).get("channel_id")
    ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get(
        "message_ts"
    )
    if channel and ts:
        try:
            await client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )
        except SlackApiError as exc:
            logger.warning(
                "could not update the message: %s", exc.response.get("error")
            )
    else:
        logger.warning("a button press without its message; nothing to update")
