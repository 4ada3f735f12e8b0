"""The settings modal: opened from ``/aispend settings`` or the Home tab, saved on submit.

A submission is checked and saved before it is acknowledged, so that both a
mistake in the form and a database too busy to save are shown in the modal
itself. The save waits a bounded time (``usage.prefs.LOCK_WAIT_MS``), well
inside Slack's three seconds.
"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from bot import home
from bot.people import person_for_slack_user
from bot.services import Services
from bot.slack_client import SlackError
from commands import texts
from commands.home import OPEN_SETTINGS
from commands.prefs import manages_a_team
from commands.settings_form import CALLBACK_ID, read_form, settings_view
from usage.directory import TeamTree
from usage.models import Person
from usage.prefs import NotSaved, load_prefs, save_prefs

logger = logging.getLogger(__name__)

FIRST_BLOCK = "nudges"
NOT_SAVED = "Not saved: the database is busy with an import. Please press Save again."


async def open_form(
    services: Services, session: AsyncSession, *, asker: Person, trigger_id: str
) -> bool:
    """Open the settings modal; False when Slack refused (an expired trigger, say)."""
    prefs = await load_prefs(session, asker.id)
    tree = await TeamTree.load(session)
    view = settings_view(
        prefs,
        today=services.today(),
        manager=manages_a_team(asker, tree),
        defaults=services.settings.get("digest") or {},
    )
    try:
        await services.slack.open_view(trigger_id, view)
    except SlackError as exc:
        logger.warning("settings modal not opened: %s", exc.error)
        return False
    return True


def register(app: AsyncApp, services: Services) -> None:
    async def from_home(ack, body) -> None:
        await ack()
        async with services.sessions() as session:
            asker = await person_for_slack_user(
                session, services.slack, body["user"]["id"]
            )
            if asker is not None:
                await open_form(
                    services, session, asker=asker, trigger_id=body["trigger_id"]
                )

    async def submitted(ack, body, view) -> None:
        user_id = body["user"]["id"]
        errors = await save_form(
            services, user_id=user_id, values=view["state"]["values"]
        )
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        await home.publish(services, user_id)

    app.action(OPEN_SETTINGS)(from_home)
    app.view(CALLBACK_ID)(submitted)


async def save_form(
    services: Services, *, user_id: str, values: dict
) -> dict[str, str]:
    """Check and store a submitted form; returns errors by block id (empty: saved)."""
    async with services.sessions() as session:
        asker = await person_for_slack_user(session, services.slack, user_id)
        if asker is None:
            return {FIRST_BLOCK: texts.UNKNOWN_ASKER.replace("`", "")[:150]}
        tree = await TeamTree.load(session)
        changes, errors = read_form(
            values, today=services.today(), manager=manages_a_team(asker, tree)
        )
        if errors:
            return errors
        try:
            await save_prefs(
                session, person_id=asker.id, changes=changes, actor=asker.email
            )
        except NotSaved:
            return {FIRST_BLOCK: NOT_SAVED}
    return {}
