"""``/aispend``: ack at once, then answer ephemerally at the ``response_url``."""

from __future__ import annotations

import logging
import secrets

from slack_bolt.async_app import AsyncApp

from bot import home, settings_modal
from bot.people import learn_mentions, person_for_slack_user
from bot.services import Services
from bot.slack_client import SlackError
from commands import Message, answer, texts
from commands.grammar import NotUnderstood, parse
from commands.prefs import CHANGES_PREFS
from usage.errors import UserError

logger = logging.getLogger(__name__)

COMMAND = "/aispend"
SLACK_TROUBLE = (
    ":warning: Slack did not answer a look-up I needed ({error}). "
    "Please try again in a minute."
)


def listener(services: Services):
    """The ``/aispend`` listener: ack, then answer."""

    async def aispend(ack, body) -> None:
        await ack()  # first, before any database or Web API call
        async with services.slot():
            message = await run_command(services, body)
        if message is not None and body.get("response_url"):
            await services.slack.respond(body["response_url"], reply(message))

    return aispend


def register(app: AsyncApp, services: Services) -> None:
    app.command(COMMAND)(listener(services))


def reply(message: Message) -> dict:
    """The ``response_url`` body for an answer: ephemeral unless it says otherwise."""
    return {
        "text": message.text,
        "blocks": message.blocks,
        "response_type": message.response_type,
    }


def command_name(text: str, services: Services) -> str | None:
    try:
        return parse(text, today=services.today()).name
    except (NotUnderstood, UserError):
        return None


async def run_command(services: Services, body: dict) -> Message | None:
    """The answer to one slash command; None when the settings form opened instead."""
    user_id = body.get("user_id") or ""
    text = body.get("text") or ""
    name = command_name(text, services)
    try:
        async with services.sessions() as session:
            asker = await person_for_slack_user(session, services.slack, user_id)
            wants_form = name == "settings" and body.get("trigger_id")
            if asker is not None and wants_form:
                opened = await settings_modal.open_form(
                    services, session, asker=asker, trigger_id=body["trigger_id"]
                )
                if opened:
                    return None
            in_group = await services.in_admin_group(user_id)
            await learn_mentions(session, services.slack, text)
            message = await answer(
                session,
                asker=asker,
                text=text,
                today=services.today(),
                slack_user_id=user_id,
                in_admin_group=in_group,
            )
    except SlackError as exc:
        logger.warning("/aispend look-up failed: %s", exc.error)
        return texts.simple(SLACK_TROUBLE.format(error=exc.error))
    except Exception:
        reference = secrets.token_hex(3)
        logger.exception("/aispend failed (reference %s)", reference)
        return texts.simple(texts.INTERNAL_ERROR.format(reference=reference))
    if asker is not None and name in CHANGES_PREFS:
        await home.publish(services, user_id)
    return message
