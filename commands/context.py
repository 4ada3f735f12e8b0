"""Who is asking, and what they may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from usage.directory import TeamTree
from usage.models import Person
from usage.settings import Settings, load_settings


@dataclass
class AskContext:
    session: AsyncSession
    asker: Person
    today: date
    settings: Settings
    tree: TeamTree
    is_admin: bool
    slack_user_id: str | None = None

    @property
    def own_team_id(self) -> int | None:
        return self.asker.team_id


def is_admin(
    person: Person, settings: Settings, *, slack_user_id: str | None = None
) -> bool:
    """Admins: directory role ``admin``, or a Slack id the settings file names."""
    if person.role == "admin":
        return True
    ids = set(settings.get("admins.slack_user_ids") or [])
    return bool(ids & {slack_user_id, person.slack_user_id} - {None})


async def build_context(
    session: AsyncSession,
    *,
    asker: Person,
    today: date,
    slack_user_id: str | None = None,
    in_admin_group: bool = False,
    settings: Settings | None = None,
) -> AskContext:
    """Everything an answer needs about the asker, loaded once per question."""
    settings = settings or await load_settings(session)
    tree = await TeamTree.load(session)
    admin = in_admin_group or is_admin(asker, settings, slack_user_id=slack_user_id)
    return AskContext(
        session=session,
        asker=asker,
        today=today,
        settings=settings,
        tree=tree,
        is_admin=admin,
        slack_user_id=slack_user_id,
    )
