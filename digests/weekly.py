"""The weekly manager digest: what the team spent, on what, and what it went with.

A manager gets one digest per ISO week for the teams they manage (a team's
figures include its sub-teams, so a top-level manager sees the whole tree).
People appear only when ``privacy.manager_view`` is ``"individuals"``, and
then alphabetically, each with their own output, never ranked.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from digests import texts
from digests.anomalies import Anomaly, find_anomalies
from digests.blocks import Message, Mrkdwn, finalize, parse_blocks, render, sparkline
from digests.schedule import week_key
from usage import ledger
from usage.directory import TeamTree, require_person
from usage.errors import UserError
from usage.models import LedgerEntry, Person, PersonPrefs, SpendRollup, Team
from usage.periods import Period
from usage.settings import Settings
from usage.spend import (
    Gap,
    Scope,
    SpendSummary,
    daily_totals,
    fold_hidden_lines,
    output_by_day,
    spend_summary,
    unattributed_usage,
)

TREND_WEEKS = 8
AVERAGE_WEEKS = 4
PR_TREND_WEEKS = 4
MAX_LINES = 8
DIGEST_KIND = "digest"
NUDGE_KIND = "nudge"


@dataclass
class PersonLine:
    name: str
    total_micros: int
    output: dict[str, int]


@dataclass
class TeamDigest:
    team: Team
    summary: SpendSummary
    trend: list[int]  # weekly totals, oldest first, this week last
    last_week_micros: int | None
    average_micros: int | None
    cost_per_pr: list[int | None]  # oldest first, this week last
    anomalies: list[Anomaly]
    nudges_sent: int
    opted_out: int
    near_cap: int
    cap_share: float
    people: list[PersonLine] | None


@dataclass
class Digest:
    manager: Person
    period: Period
    week: str
    zone: str
    teams: list[TeamDigest]
    unattributed: list[Gap] = field(default_factory=list)


def managed_roots(tree: TeamTree, email: str) -> list[Team]:
    """Teams ``email`` manages, leaving out those inside another of them."""
    managed = tree.managed_by(email)
    ids = {team.id for team in managed}
    return [team for team in managed if not ids.intersection(tree.ancestors(team.id))]


async def build_digest(
    session: AsyncSession,
    *,
    manager_email: str,
    period: Period,
    today: date,
    settings: Settings,
    tree: TeamTree | None = None,
) -> Digest:
    """The digest's figures for one manager and one ISO week (a batch passes the
    team tree it loaded once)."""
    manager = await require_person(session, manager_email)
    tree = tree or await TeamTree.load(session)
    roots = managed_roots(tree, manager.email)
    if not roots:
        raise UserError(
            f"{manager.email} manages no team in the directory, so has no digest; "
            "a team's manager_email in teams.csv decides that"
        )
    teams = [
        await _team_digest(session, tree, team, period, today, settings)
        for team in roots
    ]
    return Digest(
        manager=manager,
        period=period,
        week=week_key(period),
        zone=settings.get("organisation.reporting_timezone") or "UTC",
        teams=teams,
        unattributed=await unattributed_usage(
            session, start=period.start, end=period.end
        ),
    )


async def _team_digest(session, tree, team, period, today, settings) -> TeamDigest:
    scope = Scope.team(tree, team)
    summary = await spend_summary(
        session, scope=scope, period=period, today=today, settings=settings, tree=tree
    )
    _hide_small_groups(summary, tree, team, settings)
    weeks = [period.previous(back) for back in range(TREND_WEEKS - 1, 0, -1)]
    weeks.append(period)
    daily = summary.daily_since(weeks[0].start)
    if daily is None:
        daily = await daily_totals(
            session, scope=scope, start=weeks[0].start, end=period.end
        )
    first = summary.first_day
    if first is not None:  # weeks before the first usage are unknown, not zero
        weeks = [w for w in weeks if w.end > first] or [period]
    trend = [sum(v for d, v in daily.items() if w.contains(d)) for w in weeks]
    earlier = [
        total
        for week, total in zip(weeks[:-1], trend[:-1], strict=True)
        if first is not None
    ]
    recent = earlier[-AVERAGE_WEEKS:]
    pr_weeks = weeks[-PR_TREND_WEEKS:]
    merged = await output_by_day(
        session,
        scope=scope,
        metric="prs_merged",
        start=pr_weeks[0].start,
        end=period.end,
    )
    cost_per_pr = []
    for week, total in zip(pr_weeks, trend[-PR_TREND_WEEKS:], strict=True):
        prs = sum(v for d, v in merged.items() if week.contains(d))
        cost_per_pr.append(total // prs if prs else None)
    team_ids = tree.subtree(team.id)
    return TeamDigest(
        team=team,
        summary=summary,
        trend=trend,
        last_week_micros=earlier[-1] if earlier else None,
        average_micros=int(statistics.mean(recent)) if recent else None,
        cost_per_pr=cost_per_pr,
        anomalies=await find_anomalies(
            session,
            scope=scope,
            first_day=first,
            start=period.start,
            end=period.end,
            multiple=spike_multiple(settings, team.id),
            floor_usd=settings.get("alerts.spike_floor_usd") or 0,
        ),
        nudges_sent=await _nudges_sent(session, team_ids, period),
        opted_out=await _opted_out(session, team_ids),
        near_cap=await _near_cap(session, team_ids, period, today, settings),
        cap_share=float(settings.get("nudges.tool_cap_share") or 0.8),
        people=await _people(session, tree, team, period, settings),
    )


def _hide_small_groups(summary, tree: TeamTree, team: Team, settings: Settings) -> None:
    """Sub-teams of fewer than ``privacy.min_group_size`` people are one or two
    people's spend: the digest folds them away unless individual views are on."""
    if settings.get("privacy.manager_view") == "individuals":
        return
    smallest = int(settings.get("privacy.min_group_size") or 0)
    fold_hidden_lines(
        summary,
        tree,
        shown=lambda child: tree.size(child) >= smallest,
        direct_shown=tree.members.get(team.id, 0) >= smallest,
        min_group=smallest,
    )


def spike_multiple(settings: Settings, team_id: int) -> float:
    """The team's spike sensitivity: the default, raised each time one was expected."""
    overrides = settings.get("alerts.team_multiple") or {}
    base = float(settings.get("alerts.spike_multiple") or 3.0)
    return float(overrides.get(str(team_id), base))


async def _members(session, tree: TeamTree, team: Team) -> list[Person]:
    ids = tree.subtree(team.id)
    found = await session.execute(
        select(Person).where(Person.team_id.in_(ids), Person.active.is_(True))
    )
    return list(found.scalars())


def _in_teams(team_ids: list[int]):
    return select(Person.id).where(
        Person.team_id.in_(team_ids), Person.active.is_(True)
    )


async def _nudges_sent(session, team_ids: list[int], period: Period) -> int:
    emails = select(Person.email).where(Person.id.in_(_in_teams(team_ids)))
    count = await session.execute(
        select(func.count()).where(
            LedgerEntry.kind == NUDGE_KIND,
            LedgerEntry.period == week_key(period),
            LedgerEntry.state == "sent",
            LedgerEntry.recipient.in_(emails),
        )
    )
    return int(count.scalar() or 0)


async def _opted_out(session, team_ids: list[int]) -> int:
    count = await session.execute(
        select(func.count()).where(
            PersonPrefs.person_id.in_(_in_teams(team_ids)),
            PersonPrefs.nudges_opt_out.is_(True),
        )
    )
    return int(count.scalar() or 0)


async def _near_cap(session, team_ids: list[int], period, today, settings) -> int:
    """People whose month-to-date spend on some tool passed the cap share (one query)."""
    # TODO: for a division or the whole organisation this reads every member's
    # month, and so does the count of people who spent; a batch of digests
    # could read both once per week for everyone and count from memory.
    share = float(settings.get("nudges.tool_cap_share") or 0.8)
    cap_usd = settings.get("nudges.tool_cap_usd") or 0
    if not cap_usd:
        return 0
    threshold = int(float(cap_usd) * share * 1_000_000)
    as_of = min(today, period.last_day)  # caps as they stood in the week
    r = SpendRollup
    per_tool = (
        select(r.scope_id)
        .join(Person, Person.id == r.scope_id)
        .where(
            r.scope_kind == "person",
            Person.team_id.in_(team_ids),
            Person.active.is_(True),
            r.day >= as_of.replace(day=1),
            r.day <= as_of,
        )
        .group_by(r.scope_id, r.tool)
        .having(func.sum(r.cost_micros) >= threshold)
        .subquery()
    )
    count = await session.execute(
        select(func.count(func.distinct(per_tool.c.scope_id)))
    )
    return int(count.scalar() or 0)


async def _people(session, tree, team, period, settings) -> list[PersonLine] | None:
    if settings.get("privacy.manager_view") != "individuals":
        return None
    members = await _members(session, tree, team)
    lines = []
    for person in sorted(members, key=lambda p: (p.name.lower(), p.email)):
        summary = await spend_summary(
            session,
            scope=Scope.person(person),
            period=period,
            today=period.last_day,
            settings=settings,
        )
        lines.append(PersonLine(person.name, summary.total_micros, summary.output))
    return lines


# -- rendering ---------------------------------------------------------------


def render_digest(digest: Digest) -> Message:
    """The digest as a Slack message (blocks and a plain-text fallback)."""
    blocks: list[dict] = []
    for part in digest.teams:
        rendered = render(
            "digest.j2",
            digest=digest,
            part=part,
            summary=part.summary,
            spark=Mrkdwn(sparkline(part.trend)),
            tools=part.summary.by_tool[:MAX_LINES],
            more_tools=part.summary.by_tool[MAX_LINES:],
            models=part.summary.by_model[:MAX_LINES],
            more_models=part.summary.by_model[MAX_LINES:],
            output=texts.output_parts(part.summary.output),
            freshness=texts.freshness(part.summary.freshness),
        )
        blocks += parse_blocks(rendered)
        if part.people is not None:
            blocks += parse_blocks(
                render(
                    "digest_people.j2",
                    people=part.people,
                    describe=texts.output_parts,
                )
            )
    blocks += parse_blocks(render("digest_footer.j2", digest=digest))
    text = render("digest_fallback.j2", digest=digest)
    return finalize(text, blocks, overflow_note=texts.OVERFLOW)


# -- the ledger -----------------------------------------------------------------


async def managers(session: AsyncSession) -> list[Person]:
    """Everyone who manages a team and is active, by email."""
    tree = await TeamTree.load(session)
    emails = {team.manager_email for team in tree.teams.values() if team.manager_email}
    found = await session.execute(
        select(Person)
        .where(Person.email.in_(emails), Person.active.is_(True))
        .order_by(Person.email)
    )
    return list(found.scalars())


async def plan_digests(
    session: AsyncSession,
    *,
    period: Period,
    today: date,
    settings: Settings,
    now,
    only: list[str] | None = None,
) -> int:
    """Write this week's digest for each manager (or ``only`` these) to the ledger."""
    planned = 0
    tree: TeamTree | None = None
    wanted = {email.strip().lower() for email in only} if only else None
    for manager in await managers(session):
        if wanted is not None and manager.email not in wanted:
            continue
        key = ledger.Planned(
            DIGEST_KIND,
            manager.email,
            week_key(period),
            {
                "target": {
                    "email": manager.email,
                    "slack_user_id": manager.slack_user_id,
                }
            },
        )
        prefs = await session.get(PersonPrefs, manager.id)
        if prefs is not None and prefs.digest_opt_out:
            await ledger.record_skip(session, key, reason="turned digests off", now=now)
            continue
        if await ledger.entry_for(
            session, kind=DIGEST_KIND, recipient=manager.email, period=week_key(period)
        ):
            continue
        tree = tree or await TeamTree.load(session)
        digest = await build_digest(
            session,
            manager_email=manager.email,
            period=period,
            today=today,
            settings=settings,
            tree=tree,
        )
        key.detail["message"] = render_digest(digest).payload()
        planned += await ledger.plan(session, [key], now=now)
    return planned
