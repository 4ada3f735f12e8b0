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
from usage.spend import fold_hidden_lines


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


def can_see_team(ctx: AskContext, team: Team) -> bool:
    """Team aggregates: your own team's tree and ancestors, teams you manage, admins."""
    if ctx.is_admin:
        return True
    own = ctx.own_team_id
    if own is not None and team.id in set(ctx.tree.subtree(own)) | set(
        ctx.tree.ancestors(own)
    ):
        return True
    return manages(ctx, team)


def manages(ctx: AskContext, team: Team) -> bool:
    """Whether the asker manages ``team`` or a team above it."""
    return any(
        team.id in ctx.tree.subtree(managed.id)
        for managed in ctx.tree.managed_by(ctx.asker.email)
    )


def sees_individuals_of(ctx: AskContext, team: Team) -> bool:
    return individuals_allowed(ctx) and (ctx.is_admin or manages(ctx, team))


def min_group(ctx: AskContext) -> int:
    return int(ctx.settings.get("privacy.min_group_size") or 0)


def group_visible(ctx: AskContext, team: Team) -> bool:
    """A group's own total may be shown: it is large enough, or individuals are allowed."""
    return ctx.tree.size(team.id) >= min_group(ctx) or sees_individuals_of(ctx, team)


async def may_see_team(ctx: AskContext, team: Team) -> Decision:
    """Whether the asker may see ``team``'s totals, and who may if not."""
    if not can_see_team(ctx, team):
        managers = await team_managers(ctx, team)
        who = f"They are visible to members of {team.name}, its managers"
        if managers:
            who += f" ({', '.join(managers)})"
        return Decision(False, who + " and admins.")
    if not group_visible(ctx, team):
        parent = ctx.tree.teams.get(team.parent_id) if team.parent_id else None
        where = f" `/aispend team {parent.name}` includes it." if parent else ""
        return Decision(
            False,
            f"Team {team.name} has fewer than {min_group(ctx)} people, so its total would "
            f"be one or two people's own figures.{where}",
        )
    return Decision(True)


def visible_lines(ctx: AskContext, summary, team: Team) -> None:
    """Fold away sub-team and direct-member lines the asker may not see."""
    tree = ctx.tree
    direct = tree.members.get(team.id, 0) >= min_group(ctx) or sees_individuals_of(
        ctx, team
    )
    fold_hidden_lines(
        summary,
        tree,
        shown=lambda child: (
            can_see_team(ctx, tree.teams[child])
            and group_visible(ctx, tree.teams[child])
        ),
        direct_shown=direct,
        min_group=min_group(ctx),
    )
