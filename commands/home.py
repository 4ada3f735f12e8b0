"""The App Home tab as data: your week and month, your team's budget, your settings."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from commands import texts
from commands.context import AskContext, build_context
from commands.message import (
    ELLIPSIS,
    actions,
    button,
    context,
    divider,
    esc,
    header,
    section,
)
from commands.prefs import is_manager, prefs_lines
from commands.render import budget_line, freshness_line, spend_message
from usage.models import Person
from usage.periods import month_period, week_period
from usage.prefs import load_prefs
from usage.spend import Scope, budget_status, spend_summary

MAX_HOME_BLOCKS = 100
OPEN_SETTINGS = "aispend_open_settings"
REFRESH_HOME = "aispend_refresh_home"
HOME_CALLBACK = "aispend_home"


def _view(blocks: list[dict]) -> dict:
    if len(blocks) > MAX_HOME_BLOCKS:
        blocks = [*blocks[: MAX_HOME_BLOCKS - 1], context(f"{ELLIPSIS} more left out")]
    return {"type": "home", "callback_id": HOME_CALLBACK, "blocks": blocks}


def unknown_home() -> dict:
    return _view([header("aispend"), section(texts.UNKNOWN_ASKER)])


async def home_view(
    session: AsyncSession,
    *,
    asker: Person | None,
    today: date,
    slack_user_id: str | None = None,
    in_admin_group: bool = False,
) -> dict:
    """The Home tab for ``asker`` (``views.publish``'s ``view``)."""
    if asker is None:
        return unknown_home()
    ctx = await build_context(
        session,
        asker=asker,
        today=today,
        slack_user_id=slack_user_id,
        in_admin_group=in_admin_group,
    )
    blocks = await _spend_blocks(ctx)
    blocks += await _budget_blocks(ctx)
    blocks += await settings_blocks(ctx)
    return _view(blocks)


async def _summary(ctx: AskContext, scope: Scope, period):
    return await spend_summary(
        ctx.session,
        scope=scope,
        period=period,
        today=ctx.today,
        settings=ctx.settings,
        tree=ctx.tree,
    )


def _without_footer(blocks: list[dict]) -> list[dict]:
    """A spend answer's blocks without its closing divider and freshness line."""
    return blocks[:-2] if blocks[-2:-1] == [divider()] else blocks


async def _spend_blocks(ctx: AskContext) -> list[dict]:
    mine = Scope.person(ctx.asker)
    week = await _summary(ctx, mine, week_period(ctx.today))
    month = await _summary(ctx, mine, month_period(ctx.today.year, ctx.today.month))
    shown = []
    for title, summary in (("This week", week), ("This month", month)):
        message = spend_message(
            summary, title=title, whose="your", settings=ctx.settings
        )
        shown += [*_without_footer(message.blocks), divider()]
    shown.append(context(freshness_line(week.freshness, ctx.settings)))
    return [header(f"Your AI spend, {ctx.asker.name}"), *shown]


async def _budget_blocks(ctx: AskContext) -> list[dict]:
    team_id = ctx.asker.team_id
    if team_id is None or team_id not in ctx.tree.teams:
        return []
    team = ctx.tree.teams[team_id]
    budget = await budget_status(
        ctx.session,
        scope=Scope.team(ctx.tree, team),
        today=ctx.today,
        settings=ctx.settings,
        tree=ctx.tree,
    )
    if budget is None:
        body = f"Team {esc(team.name)} has no monthly budget set."
    else:
        body = budget_line(budget, whose=f"Team {esc(team.name)}'s")
    return [divider(), section(body)]


async def settings_blocks(ctx: AskContext) -> list[dict]:
    prefs = await load_prefs(ctx.session, ctx.asker.id)
    lines = prefs_lines(
        prefs,
        today=ctx.today,
        manager=is_manager(ctx),
        defaults=ctx.settings.get("digest") or {},
    )
    return [
        divider(),
        section("*Your settings*\n" + "\n".join(lines)),
        actions(
            button("Change settings", action_id=OPEN_SETTINGS, style="primary"),
            button("Refresh", action_id=REFRESH_HOME),
        ),
        context(
            "Nobody is ranked: you see your own figures, and teams only as totals. "
            "Ask `/aispend help` for more."
        ),
    ]
