"""The answers to ``/aispend`` subcommands, and :func:`answer`, their one entry point."""

from __future__ import annotations

import logging
import secrets
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from commands import texts
from commands.context import AskContext, build_context
from commands.grammar import REGISTRY, NotUnderstood, Request, parse, subcommand
from commands.message import (
    Message,
    context,
    divider,
    esc,
    finalize,
    header,
    plural,
    section,
    tokens,
    usd,
)
from commands.permissions import may_see_person, may_see_team
from commands.render import caps_block, freshness_line, spend_message
from usage.errors import UserError
from usage.models import Person, SlackUser
from usage.periods import Period, month_period, week_period
from usage.spend import (
    Scope,
    freshness,
    spend_summary,
    tool_caps,
    unattributed_usage,
    unpriced_models,
)

logger = logging.getLogger(__name__)


async def answer(
    session: AsyncSession,
    *,
    asker: Person | None,
    text: str,
    today: date,
    slack_user_id: str | None = None,
    in_admin_group: bool = False,
) -> Message:
    """What ``/aispend TEXT`` shows ``asker``. Never raises: errors become a friendly reply."""
    if asker is None:
        return texts.simple(texts.UNKNOWN_ASKER)
    try:
        request = parse(text, today=today)
        ctx = await build_context(
            session,
            asker=asker,
            today=today,
            slack_user_id=slack_user_id,
            in_admin_group=in_admin_group,
        )
        command = REGISTRY[request.name]
        if command.admin_only and not ctx.is_admin:
            return texts.simple(texts.ADMIN_ONLY)
        return await command.handler(ctx, request)
    except NotUnderstood as exc:
        return texts.not_understood(exc.text, exc.suggestion)
    except UserError as exc:
        return texts.simple(f":warning: {esc(exc)}")
    except Exception:
        reference = secrets.token_hex(3)
        logger.exception("answer failed (reference %s)", reference)
        return texts.simple(texts.INTERNAL_ERROR.format(reference=reference))


def _period(request: Request, ctx: AskContext, *, default: str = "week") -> Period:
    if request.period is not None:
        return request.period
    if default == "month":
        return month_period(ctx.today.year, ctx.today.month)
    return week_period(ctx.today)


# -- me, @person ---------------------------------------------------------------


@subcommand(
    "me",
    usage="me [PERIOD]",
    summary="your own spend, by tool and model, with what it went with",
)
async def me(ctx: AskContext, request: Request) -> Message:
    return await _person_answer(ctx, ctx.asker, _period(request, ctx))


@subcommand(
    "@person",
    takes_period=True,
    usage="@person [PERIOD]",
    summary="one person's spend (their managers and admins, when individual views are on)",
)
async def person(ctx: AskContext, request: Request) -> Message:
    target = await _find_person(ctx, request)
    if target.id != ctx.asker.id:
        decision = await may_see_person(ctx, target)
        if not decision.allowed:
            return texts.refusal(f"{target.name}'s own figures", decision.who_can)
    return await _person_answer(ctx, target, _period(request, ctx))


async def _person_answer(ctx: AskContext, target: Person, period: Period) -> Message:
    own = target.id == ctx.asker.id
    summary = await spend_summary(
        ctx.session,
        scope=Scope.person(target),
        period=period,
        today=ctx.today,
        settings=ctx.settings,
        tree=ctx.tree,
    )
    caps = await tool_caps(
        ctx.session,
        person_id=target.id,
        period=period,
        today=ctx.today,
        settings=ctx.settings,
    )
    near = [cap for cap in caps if cap.share >= 0.5]
    extra = [block] if (block := caps_block(near)) else []
    title = "Your AI spend" if own else f"{target.name}'s AI spend"
    return spend_message(
        summary,
        title=title,
        whose="your" if own else "their",
        settings=ctx.settings,
        extra=extra,
    )


async def _find_person(ctx: AskContext, request: Request) -> Person:
    session = ctx.session
    found: Person | None = None
    if request.slack_id:
        found = (
            (
                await session.execute(
                    select(Person).where(Person.slack_user_id == request.slack_id)
                )
            )
            .scalars()
            .first()
        )
        if found is None:
            cached = (
                (
                    await session.execute(
                        select(SlackUser.email).where(
                            SlackUser.slack_user_id == request.slack_id
                        )
                    )
                )
                .scalars()
                .first()
            )
            if cached:
                found = await _by_email(session, cached)
    elif request.email:
        found = await _by_email(session, request.email)
    elif request.handle:
        found = await _by_handle(session, request.handle)
    if found is None:
        raise UserError(texts.PERSON_NOT_FOUND)
    return found


async def _by_email(session: AsyncSession, email: str) -> Person | None:
    query = select(Person).where(Person.email == email.strip().lower())
    return (await session.execute(query)).scalars().first()


async def _by_handle(session: AsyncSession, handle: str) -> Person | None:
    matches = (
        (
            await session.execute(
                select(Person).where(
                    or_(
                        Person.email.like(f"{handle}@%"),
                        func.lower(Person.name) == handle.replace(".", " "),
                        func.lower(Person.github_login) == handle,
                    )
                )
            )
        )
        .scalars()
        .all()
    )
    if len(matches) > 1:
        raise UserError(
            f"more than one person matches @{handle}; mention them or use their email"
        )
    return matches[0] if matches else None


# -- team, org ---------------------------------------------------------------------


def _team_from(ctx: AskContext, words: tuple[str, ...]):
    name = " ".join(words).strip()
    if name:
        team = ctx.tree.by_name(name)
        if team is None:
            raise UserError(texts.team_not_found(name, ctx))
        return team
    if ctx.asker.team_id is None or ctx.asker.team_id not in ctx.tree.teams:
        raise UserError("you are in no team in the directory; try `/aispend team NAME`")
    return ctx.tree.teams[ctx.asker.team_id]


@subcommand(
    "team",
    usage="team [NAME] [PERIOD]",
    summary="a team's spend, sub-teams included, no names",
)
async def team(ctx: AskContext, request: Request) -> Message:
    chosen = _team_from(ctx, request.words)
    decision = await may_see_team(ctx, chosen)
    if not decision.allowed:
        return texts.refusal(f"the figures of team {chosen.name}", decision.who_can)
    summary = await spend_summary(
        ctx.session,
        scope=Scope.team(ctx.tree, chosen),
        period=_period(request, ctx),
        today=ctx.today,
        settings=ctx.settings,
        tree=ctx.tree,
    )
    return spend_message(
        summary, title=f"Team {chosen.name}", whose="the team's", settings=ctx.settings
    )


@subcommand("org", usage="org [PERIOD]", summary="the whole organisation's spend")
async def org(ctx: AskContext, request: Request) -> Message:
    if request.words:
        raise NotUnderstood(request.text, "org last week")
    name = ctx.settings.get("organisation.name") or "The organisation"
    summary = await spend_summary(
        ctx.session,
        scope=Scope.org(name),
        period=_period(request, ctx),
        today=ctx.today,
        settings=ctx.settings,
        tree=ctx.tree,
    )
    return spend_message(
        summary,
        title=name,
        whose="the organisation's",
        settings=ctx.settings,
        show_unattributed=ctx.is_admin,
    )


# -- budget, tools, models, sources --------------------------------------------------


@subcommand(
    "budget",
    usage="budget [TEAM]",
    summary="your team's budget this month and your tool caps",
)
async def budget(ctx: AskContext, request: Request) -> Message:
    words = request.words[1:] if request.words[:1] == ("team",) else request.words
    period = _period(request, ctx, default="month")
    blocks = []
    if words or ctx.asker.team_id is not None:
        chosen = _team_from(ctx, words)
        decision = await may_see_team(ctx, chosen)
        if not decision.allowed:
            return texts.refusal(f"the budget of team {chosen.name}", decision.who_can)
        summary = await spend_summary(
            ctx.session,
            scope=Scope.team(ctx.tree, chosen),
            period=period,
            today=ctx.today,
            settings=ctx.settings,
            tree=ctx.tree,
        )
        from commands.render import budget_line

        if summary.budget is None:
            blocks.append(
                section(f"Team {esc(chosen.name)} has no monthly budget set.")
            )
        else:
            blocks.append(
                section(budget_line(summary.budget, whose=f"Team {esc(chosen.name)}'s"))
            )
    caps = await tool_caps(
        ctx.session,
        person_id=ctx.asker.id,
        period=period,
        today=ctx.today,
        settings=ctx.settings,
    )
    blocks.append(
        caps_block(caps) or section("You have used no capped tool this month.")
    )
    fresh = await freshness(ctx.session)
    blocks += [divider(), context(freshness_line(fresh, ctx.settings))]
    return finalize(
        f"Budget for {period.label}", [header(f"Budget · {period.label}"), *blocks]
    )


async def _breakdown(ctx: AskContext, request: Request, focus: str) -> Message:
    words = list(request.words)
    if words[:1] == ["org"]:
        scope, whose, title = Scope.org(), "the organisation's", "The organisation"
    elif words[:1] == ["team"]:
        chosen = _team_from(ctx, tuple(words[1:]))
        decision = await may_see_team(ctx, chosen)
        if not decision.allowed:
            return texts.refusal(f"the figures of team {chosen.name}", decision.who_can)
        scope, whose, title = (
            Scope.team(ctx.tree, chosen),
            "the team's",
            f"Team {chosen.name}",
        )
    elif not words:
        scope, whose, title = Scope.person(ctx.asker), "your", "Your AI spend"
    else:
        raise NotUnderstood(request.text, f"{focus} team {' '.join(words)}")
    summary = await spend_summary(
        ctx.session,
        scope=scope,
        period=_period(request, ctx),
        today=ctx.today,
        settings=ctx.settings,
        tree=ctx.tree,
    )
    if focus == "tools":
        summary.by_model = []
    else:
        summary.by_tool = []
    label = "by tool" if focus == "tools" else "by model"
    return spend_message(
        summary, title=f"{title} {label}", whose=whose, settings=ctx.settings
    )


@subcommand("tools", usage="tools [team NAME | org] [PERIOD]", summary="spend by tool")
async def tools(ctx: AskContext, request: Request) -> Message:
    return await _breakdown(ctx, request, "tools")


@subcommand(
    "models", usage="models [team NAME | org] [PERIOD]", summary="spend by model"
)
async def models(ctx: AskContext, request: Request) -> Message:
    return await _breakdown(ctx, request, "models")


@subcommand(
    "sources",
    usage="sources",
    summary="where the data comes from and how fresh it is",
    takes_period=False,
)
async def sources(ctx: AskContext, request: Request) -> Message:
    fresh = await freshness(ctx.session)
    lines = []
    for state in fresh.sources:
        through = (
            f"data through {state.covered_to:%b} {state.covered_to.day}, {state.covered_to.year}"
            if state.covered_to
            else "no data yet"
        )
        pulled = (
            f"last pull {_stamp(state.last_success_at)}"
            if state.last_success_at
            else "never pulled"
        )
        line = f"• *{esc(state.source)}*: {through}, {pulled}"
        if state.last_error:
            line += " · :warning: last pull failed"
            if ctx.is_admin:
                line += f": {esc(state.last_error[:300])}"
        lines.append(line)
    body = "\n".join(lines) or "No source has been imported yet."
    blocks = [header("Data sources"), section(body)]
    if ctx.is_admin:
        blocks += await _admin_gaps(ctx)
    blocks.append(context(freshness_line(fresh, ctx.settings)))
    return finalize("Data sources and freshness", blocks)


GAP_DAYS = 90


def _stamp(moment) -> str:
    return f"{moment:%b} {moment.day} {moment:%H:%M} UTC"


async def _admin_gaps(ctx: AskContext) -> list[dict]:
    """For admins: unpriced models and unattributed usage of the last 90 days."""
    end = ctx.today + timedelta(days=1)
    start = end - timedelta(days=GAP_DAYS)
    blocks = []
    unpriced = await unpriced_models(ctx.session, start=start, end=end)
    if unpriced:
        lines = [
            f"• {esc(gap.name)}: {plural(gap.requests, 'request')}, {tokens(gap.tokens)} tokens"
            for gap in unpriced
        ]
        title = (
            f"*Unpriced models, last {GAP_DAYS} days* (add them to the price table):"
        )
        blocks.append(section(title + "\n" + "\n".join(lines)))
    nobody = await unattributed_usage(ctx.session, start=start, end=end)
    if nobody:
        lines = [
            f"• {esc(gap.name)}: {usd(gap.cost_micros)} over {plural(gap.requests, 'request')}"
            for gap in nobody
        ]
        title = f"*Unattributed usage, last {GAP_DAYS} days* (map its keys or users to people):"
        blocks.append(section(title + "\n" + "\n".join(lines)))
    return blocks


@subcommand("help", usage="help", summary="this list", takes_period=False)
async def help_(ctx: AskContext, request: Request) -> Message:
    return texts.help_message(ctx)
