"""Who may see what (DESIGN: People, teams, permissions).

- Your own figures, always.
- Aggregates of your own team (its sub-teams and the teams above it included),
  of teams you manage, and of the org: everyone. Other teams: their managers
  and admins.
- One person's figures: their manager chain and admins, and only when the
  privacy setting (``privacy.manager_view``) is ``individuals``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from commands.context import AskContext
from usage.directory import manager_chain
from usage.models import Person, Team


@dataclass(frozen=True)
class Decision:
    allowed: bool
    who_can: str = ""


def individuals_allowed(ctx: AskContext) -> bool:
    return ctx.settings.get("privacy.manager_view") == "individuals"


def _names(people: list[Person]) -> str:
    return ", ".join(p.name for p in people)


async def may_see_person(ctx: AskContext, target: Person) -> Decision:
    """Whether the asker may see ``target``'s own figures, and who may if not."""
    if target.id == ctx.asker.id:
        return Decision(True)
    chain = await manager_chain(ctx.session, target)
    in_chain = any(manager.id == ctx.asker.id for manager in chain)
    if (in_chain or ctx.is_admin) and individuals_allowed(ctx):
        return Decision(True)
    managers = f"their managers ({_names(chain)})" if chain else "their managers"
    if individuals_allowed(ctx):
        who = f"They are visible to {target.name}, {managers} and admins."
    else:
        who = (
            f"Individual figures are switched off in this workspace, so only {target.name} "
            f"sees them. An admin can turn on individual views for {managers}."
        )
    return Decision(False, who)


async def team_managers(ctx: AskContext, team: Team) -> list[str]:
    """Names of the team's manager and the managers above it, nearest first."""
    emails: list[str] = []
    for team_id in [team.id, *ctx.tree.ancestors(team.id)]:
        email = ctx.tree.teams[team_id].manager_email
        if email and email not in emails:
            emails.append(email)
    found = await ctx.session.execute(
        select(Person.email, Person.name).where(Person.email.in_(emails))
    )
    names = {email: name for email, name in found}
    return [names.get(email, email) for email in emails]


async def may_see_team(ctx: AskContext, team: Team) -> Decision:
    """Team aggregates: your own team's tree and ancestors, teams you manage, admins."""
    if ctx.is_admin:
        return Decision(True)
    own = ctx.own_team_id
    if own is not None:
        related = set(ctx.tree.subtree(own)) | set(ctx.tree.ancestors(own))
        if team.id in related:
            return Decision(True)
    for managed in ctx.tree.managed_by(ctx.asker.email):
        if team.id in ctx.tree.subtree(managed.id):
            return Decision(True)
    managers = await team_managers(ctx, team)
    who = f"They are visible to members of {team.name}, its managers"
    if managers:
        who += f" ({', '.join(managers)})"
    return Decision(False, who + " and admins.")
