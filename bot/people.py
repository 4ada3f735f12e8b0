"""Who a Slack user is in the directory.

A Slack user id is matched through the directory's ``slack_user_id``, then
the ``slack_users`` cache, then ``users.info`` (its email, matched without
regard to case). What Slack says is cached with the user's time zone.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.slack_client import RecipientUnavailable, SlackClient, SlackError
from usage.directory import person_by_email, person_by_slack_id
from usage.models import Person, SlackUser, utcnow

logger = logging.getLogger(__name__)

MENTIONS = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


async def _cached_email(session: AsyncSession, user_id: str) -> str | None:
    found = await session.execute(
        select(SlackUser.email).where(
            SlackUser.slack_user_id == user_id, SlackUser.status == "ok"
        )
    )
    return found.scalars().first()


async def remember(
    session: AsyncSession,
    *,
    email: str,
    user_id: str | None,
    timezone: str | None,
    status: str,
) -> None:
    """Cache what Slack said about an address; a busy database only skips the cache."""
    try:
        row = await session.get(SlackUser, email)
        if row is None:
            row = SlackUser(email=email)
            session.add(row)
        row.slack_user_id = user_id
        row.timezone = timezone
        row.status = status
        row.looked_up_at = utcnow()
        await session.commit()
    except OperationalError as exc:
        await session.rollback()
        logger.warning("Slack user cache not updated: %s", type(exc.orig).__name__)


def _status(user: dict) -> str:
    if user.get("deleted"):
        return "deleted"
    if user.get("is_bot"):
        return "bot"
    return "ok"


async def person_for_slack_user(
    session: AsyncSession, slack: SlackClient, user_id: str
) -> Person | None:
    """The directory person behind a Slack user id, or None when there is none."""
    found = await person_by_slack_id(session, user_id)
    if found is not None:
        return found
    email = await _cached_email(session, user_id)
    if email:
        return await person_by_email(session, email)
    try:
        user = await slack.user_info(user_id)
    except RecipientUnavailable:
        return None
    email = ((user.get("profile") or {}).get("email") or "").strip().lower()
    if not email:
        logger.info("Slack user %s has no email visible (users:read.email?)", user_id)
        return None
    await remember(
        session,
        email=email,
        user_id=user_id,
        timezone=user.get("tz"),
        status=_status(user),
    )
    return await person_by_email(session, email)


async def learn_mentions(session: AsyncSession, slack: SlackClient, text: str) -> None:
    """Look up mentioned users the directory does not know, so answers can find them."""
    for user_id in list(dict.fromkeys(MENTIONS.findall(text or "")))[:5]:
        try:
            await person_for_slack_user(session, slack, user_id)
        except SlackError as exc:
            logger.warning("could not look up a mentioned user: %s", exc.error)
