"""The App Home tab: published on ``app_home_opened`` (once per event id) and
after a person's settings change. Its "Change settings" button is handled in
:mod:`bot.settings_modal`."""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_bolt.async_app import AsyncApp
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.people import person_for_slack_user
from bot.services import Services
from bot.slack_client import SlackError
from commands.home import REFRESH_HOME, home_view
from usage.models import ProcessedEvent

logger = logging.getLogger(__name__)

EVENT_MEMORY = timedelta(days=2)


def opened_listener(services: Services):
    """The ``app_home_opened`` listener: publish once per event id."""

    async def home_opened(event, body) -> None:
        if event.get("tab", "home") != "home":
            return
        if not await first_delivery(services, body.get("event_id")):
            logger.info("event %s was delivered again; skipped", body.get("event_id"))
            return
        await publish(services, event.get("user") or "")

    return home_opened


def register(app: AsyncApp, services: Services) -> None:
    async def refresh(ack, body) -> None:
        await ack()
        await publish(services, body["user"]["id"])

    app.event("app_home_opened")(opened_listener(services))
    app.action(REFRESH_HOME)(refresh)


async def first_delivery(services: Services, event_id: str | None) -> bool:
    """Record an event id; False when it was recorded before (a redelivery)."""
    # TODO: a publish that fails after this is not retried by a redelivery,
    # because the id is recorded first; the next visit publishes again.
    if not event_id:
        return True
    now = services.clock()
    async with services.sessions() as session:
        session.add(ProcessedEvent(event_id=event_id, seen_at=now))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return False
        await session.execute(
            delete(ProcessedEvent).where(ProcessedEvent.seen_at < now - EVENT_MEMORY)
        )
        await session.commit()
    return True


async def publish(services: Services, user_id: str) -> None:
    """Build and publish ``user_id``'s Home tab; a Slack failure is logged, not raised.

    TODO: only the asker's own changes re-publish at once, because an admin's
    change to someone else, or a nudge button, does not know their Home; the
    next visit shows it.
    """
    try:
        async with services.slot(), services.sessions() as session:
            asker = await person_for_slack_user(session, services.slack, user_id)
            view = await home_view(
                session,
                asker=asker,
                today=services.today(),
                slack_user_id=user_id,
                in_admin_group=await services.in_admin_group(user_id),
            )
        await services.slack.publish_home(user_id, view)
    except SlackError as exc:
        logger.warning("Home tab not published: %s", exc.error)
