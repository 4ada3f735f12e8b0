"""What the bot's listeners share: database sessions, the Slack client, a clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.slack_client import SlackClient, SlackError
from usage.models import utcnow
from usage.settings import Settings, file_settings

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ADMIN_GROUP_TTL = timedelta(minutes=5)


@dataclass
class AdminGroup:
    """Members of the admin user group (``admins.usergroup``), cached briefly."""

    slack: SlackClient
    group_id: str
    clock: Clock
    ttl: timedelta = ADMIN_GROUP_TTL
    _members: frozenset[str] = frozenset()
    _fetched_at: datetime | None = None

    async def contains(self, user_id: str) -> bool:
        if not self.group_id:
            return False
        now = self.clock()
        if self._fetched_at is None or now - self._fetched_at > self.ttl:
            try:
                members = await self.slack.usergroup_members(self.group_id)
            except SlackError as exc:
                logger.warning(
                    "admin user group %s not readable (%s); treating as empty",
                    self.group_id,
                    exc.error,
                )
                members = []
            self._members = frozenset(members)
            self._fetched_at = now
        return user_id in self._members


@dataclass
class Services:
    """Everything a listener needs; built once per process."""

    sessions: async_sessionmaker[AsyncSession] | Callable[[], Any]
    slack: SlackClient
    clock: Clock = utcnow
    settings: Settings = field(default_factory=file_settings)
    admin_group: AdminGroup | None = None
    # Answers computed at once. Each is CPU work on the event loop; letting a
    # burst of them run together makes every ack (due within 3 s) wait its turn.
    answer_slots: int = 4
    _slots: asyncio.Semaphore | None = field(default=None, init=False, repr=False)

    def slot(self) -> asyncio.Semaphore:
        """The semaphore that answers and Home views take before they are computed."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.answer_slots)
        return self._slots

    def __post_init__(self) -> None:
        if self.admin_group is None:
            self.admin_group = AdminGroup(
                self.slack,
                str(self.settings.get("admins.usergroup") or ""),
                self.clock,
            )

    def today(self) -> date:
        """Today in the organisation's reporting time zone."""
        return self.clock().astimezone(self.settings.reporting_zone).date()

    async def in_admin_group(self, user_id: str) -> bool:
        assert self.admin_group is not None
        return await self.admin_group.contains(user_id)
