"""Spend answers: a person's, a team's (with sub-teams) or the org's spend for a period.

Pure data, no Slack. Every figure comes from the daily rollups, so an answer
costs a handful of indexed range reads whatever the history holds. Money is
integer micro-dollars throughout; rendering rounds.
"""

from __future__ import annotations

import calendar
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from usage.directory import TeamTree
from usage.models import OutputRollup, Person, SourceState, SpendRollup, Team
from usage.periods import Period, month_period
from usage.settings import Settings

USUAL_COUNT = {"week": 8, "month": 3}
USUAL_DEFAULT_COUNT = 4
RUN_RATE_DAYS = 7
MICROS = 1_000_000


@dataclass(frozen=True)
class Scope:
    """Whose spend: one person, a team with its sub-teams, or the whole org."""

    kind: str  # person|team|org
    label: str
    rollup_kind: str
    ids: tuple[int, ...]
    team_id: int | None = None
    person_id: int | None = None

    @classmethod
    def person(cls, person: Person) -> Scope:
        return cls("person", person.name, "person", (person.id,), person_id=person.id)

    @classmethod
    def team(cls, tree: TeamTree, team: Team) -> Scope:
        ids = tuple(sorted(tree.subtree(team.id)))
        return cls("team", team.name, "team", ids, team_id=team.id)

    @classmethod
    def org(cls, name: str = "") -> Scope:
        return cls("org", name or "the organisation", "org", (0,))


@dataclass(frozen=True)
class Line:
    name: str
    cost_micros: int
    unpriced_tokens: int = 0


@dataclass(frozen=True)
class Usual:
    """The scope's own usual for periods like this one: the median of earlier ones."""

    median_micros: int
    periods: int
    basis: str


@dataclass(frozen=True)
class Budget:
    month: Period
    as_of: date
    budget_micros: int
    spent_micros: int
    forecast_micros: int
    crosses_on: date | None
    incomplete: bool
    label: str = ""

    @property
    def share(self) -> float:
        return self.spent_micros / self.budget_micros if self.budget_micros else 0.0

    @property
    def forecast_share(self) -> float:
        return self.forecast_micros / self.budget_micros if self.budget_micros else 0.0


@dataclass(frozen=True)
class SourceFreshness:
    source: str
    covered_to: date | None
    last_success_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Freshness:
    latest_day: date | None
    last_import_at: datetime | None
    sources: tuple[SourceFreshness, ...]


@dataclass
class SpendSummary:
    scope: Scope
    period: Period
    total_micros: int
    by_tool: list[Line]
    by_model: list[Line]
    unpriced_tokens: int
    unpriced_requests: int
    unpriced_models: list[str]
    requests: int
    tokens: int
    usual: Usual | None
    output: dict[str, int]
    budget: Budget | None
    freshness: Freshness
    subteams: list[Line] = field(default_factory=list)
    direct_micros: int | None = None
    unattributed_micros: int = 0
    people_with_spend: int | None = None
    first_day: date | None = None  # the scope's first day with usage
    # Daily totals from ``history_start`` to the period's end, read for the usual.
    history: dict[date, int] = field(default_factory=dict)
    history_start: date | None = None

    def daily_since(self, start: date) -> dict[date, int] | None:
        """Daily totals from ``start`` to the period's end, when already read."""
        if self.history_start is None or start < self.history_start:
            return None
        return {d: v for d, v in self.history.items() if d >= start}

    @property
    def cost_per_pr_micros(self) -> int | None:
        prs = self.output.get("prs_merged", 0)
        return self.total_micros // prs if prs else None

    @property
    def has_data(self) -> bool:
        return bool(self.total_micros or self.unpriced_tokens or self.requests)


async def _once(session: AsyncSession, key: tuple, read, *args):
    """``read(session, *args)``, read once per session: one question's figures
    (a week and a month on the Home tab) share what does not depend on the period."""
    memo = session.info.setdefault("aispend_spend_reads", {})
    if key not in memo:
        memo[key] = await read(session, *args)
    return memo[key]


async def _rows(session: AsyncSession, statement):
    """Run a read on the session's connection: rows, without the ORM's work for
    entities (these queries read sums and columns only)."""
    return await (await session.connection()).execute(statement)


def _scope_filter(table, scope: Scope):
    return (table.scope_kind == scope.rollup_kind, table.scope_id.in_(scope.ids))


async def spend_summary(
    session: AsyncSession,
    *,
    scope: Scope,
    period: Period,
    today: date,
    settings: Settings,
    tree: TeamTree | None = None,
) -> SpendSummary:
    """The answer for ``scope`` over ``period``, as seen on ``today``."""
    lines = await _period_lines(session, scope, period)
    by_tool, by_model = _group(lines, 0), _group(lines, 1)
    history_start = min(
        _usual_window(period)[0],
        period.start.replace(day=1),
        period.start - timedelta(days=31),
    )
    daily = await daily_totals(
        session, scope=scope, start=history_start, end=period.end
    )
    first_day = await _once(
        session, ("first_day", scope.rollup_kind, scope.ids), first_usage_day, scope
    )
    unpriced_tokens = sum(row["unpriced_tokens"] for row in lines)
    summary = SpendSummary(
        scope=scope,
        period=period,
        total_micros=sum(row["cost"] for row in lines),
        by_tool=by_tool,
        by_model=by_model,
        unpriced_tokens=unpriced_tokens,
        unpriced_requests=sum(row["unpriced_requests"] for row in lines),
        unpriced_models=sorted(
            {row["model"] for row in lines if row["unpriced_tokens"]}
        ),
        requests=sum(row["requests"] for row in lines),
        tokens=sum(row["tokens"] for row in lines),
        usual=usual_for(daily, period, first_day),
        output=await output_totals(session, scope=scope, period=period),
        budget=None,
        freshness=await _once(session, ("freshness",), freshness),
        first_day=first_day,
        history=daily,
        history_start=history_start,
    )
    summary.budget = await _budget(session, scope, period, today, settings, tree, daily)
    if scope.kind == "team" and tree is not None:
        await _add_team_detail(session, summary, tree, period)
    if scope.kind == "org":
        summary.unattributed_micros = await _unattributed(session, period)
    return summary


async def _period_lines(
    session: AsyncSession, scope: Scope, period: Period
) -> list[dict]:
    r = SpendRollup
    tokens = (
        r.input_tokens + r.cache_read_tokens + r.cache_write_tokens + r.output_tokens
    )
    rows = await _rows(
        session,
        select(
            r.tool,
            r.model,
            func.sum(r.cost_micros),
            func.sum(r.unpriced_tokens),
            func.sum(r.unpriced_requests),
            func.sum(r.requests),
            func.sum(tokens),
        )
        .where(*_scope_filter(r, scope), r.day >= period.start, r.day < period.end)
        .group_by(r.tool, r.model),
    )
    keys = (
        "tool",
        "model",
        "cost",
        "unpriced_tokens",
        "unpriced_requests",
        "requests",
        "tokens",
    )
    return [
        {
            key: (value if index < 2 else int(value or 0))
            for index, (key, value) in enumerate(zip(keys, row, strict=True))
        }
        for row in rows
    ]


def _group(lines: list[dict], index: int) -> list[Line]:
    key = ("tool", "model")[index]
    costs: dict[str, int] = defaultdict(int)
    unpriced: dict[str, int] = defaultdict(int)
    for row in lines:
        name = row[key] or "unknown"
        costs[name] += row["cost"]
        unpriced[name] += row["unpriced_tokens"]
    return sorted(
        (Line(name, costs[name], unpriced[name]) for name in costs),
        key=lambda line: (-line.cost_micros, line.name),
    )


async def daily_totals(
    session: AsyncSession, *, scope: Scope, start: date, end: date
) -> dict[date, int]:
    """Spend per day in [start, end) for ``scope`` (days without spend are absent)."""
    r = SpendRollup
    rows = await _rows(
        session,
        select(r.day, func.sum(r.cost_micros))
        .where(*_scope_filter(r, scope), r.day >= start, r.day < end)
        .group_by(r.day),
    )
    return {day: int(total or 0) for day, total in rows}


async def first_usage_day(session: AsyncSession, scope: Scope) -> date | None:
    r = SpendRollup
    return (
        await _rows(session, select(func.min(r.day)).where(*_scope_filter(r, scope)))
    ).scalar()


def _usual_window(period: Period) -> tuple[date, int]:
    count = USUAL_COUNT.get(period.kind, USUAL_DEFAULT_COUNT)
    return period.previous(count).start, count


def usual_for(
    daily: dict[date, int], period: Period, first_day: date | None
) -> Usual | None:
    """Median total of the earlier periods like ``period``, counting only periods
    that start on or after the scope's first day with usage (no invented zeros)."""
    if first_day is None:
        return None
    _, count = _usual_window(period)
    totals = []
    for back in range(1, count + 1):
        earlier = period.previous(back)
        if earlier.start < first_day:
            break
        totals.append(sum(v for d, v in daily.items() if earlier.contains(d)))
    if not totals:
        return None
    median = int(statistics.median(totals))
    return Usual(median, len(totals), _basis(period.kind, len(totals)))


def _basis(kind: str, count: int) -> str:
    if count == 1:
        noun = {"week": "week", "month": "month"}.get(kind, "period of the same length")
        return f"the previous {noun}"
    noun = {"week": "weeks", "month": "months"}.get(kind, "periods of the same length")
    return f"median of the previous {count} {noun}"


async def output_totals(
    session: AsyncSession, *, scope: Scope, period: Period
) -> dict[str, int]:
    """Output counts (merged PRs, commits, sessions, lines) for the scope and period."""
    o = OutputRollup
    rows = await _rows(
        session,
        select(o.metric, func.sum(o.value))
        .where(*_scope_filter(o, scope), o.day >= period.start, o.day < period.end)
        .group_by(o.metric),
    )
    return {metric: int(value or 0) for metric, value in rows}


async def output_by_day(
    session: AsyncSession, *, scope: Scope, metric: str, start: date, end: date
) -> dict[date, int]:
    """One output count per day in [start, end) for ``scope``."""
    o = OutputRollup
    rows = await _rows(
        session,
        select(o.day, func.sum(o.value))
        .where(
            *_scope_filter(o, scope), o.metric == metric, o.day >= start, o.day < end
        )
        .group_by(o.day),
    )
    return {day: int(value or 0) for day, value in rows}


async def freshness(session: AsyncSession) -> Freshness:
    """How recent the data is: the newest day any source covers, and each source's state."""
    st = SourceState
    states = await _rows(
        session,
        select(st.source, st.covered_to, st.last_success_at, st.last_error).order_by(
            st.source
        ),
    )
    sources = tuple(SourceFreshness(*row) for row in states)
    days = [s.covered_to for s in sources if s.covered_to]
    imports = [s.last_success_at for s in sources if s.last_success_at]
    return Freshness(max(days, default=None), max(imports, default=None), sources)


# -- budgets ----------------------------------------------------------------


def budget_reference_day(period: Period, today: date) -> date:
    """The day a budget is read on: today, or the last day of the period's month
    once that month is over (its final figure, with nothing left to forecast)."""
    last = period.last_day
    month_end = month_period(last.year, last.month).last_day
    return min(today, month_end)


async def budget_status(
    session: AsyncSession,
    *,
    scope: Scope,
    today: date,
    settings: Settings,
    tree: TeamTree | None = None,
) -> Budget | None:
    """This month's budget for ``scope`` as it stands on ``today`` (spent so far,
    forecast, crossing day), without the rest of a summary; None without one."""
    if _budget_amount(scope, settings, tree) is None:
        return None
    month = month_period(today.year, today.month)
    daily = await daily_totals(session, scope=scope, start=month.start, end=month.end)
    return await _budget(session, scope, month, today, settings, tree, daily)


async def _budget(
    session, scope, period, today, settings, tree, daily
) -> Budget | None:
    amount = _budget_amount(scope, settings, tree)
    if amount is None:
        return None
    as_of = budget_reference_day(period, today)
    month = month_period(as_of.year, as_of.month)
    missing = [d for d in (month.start, as_of) if d < min(daily, default=month.start)]
    if missing:
        daily = await daily_totals(
            session, scope=scope, start=month.start, end=month.end
        )
    r = SpendRollup
    unpriced = (
        await _rows(
            session,
            select(func.sum(r.unpriced_tokens)).where(
                *_scope_filter(r, scope), r.day >= month.start, r.day <= as_of
            ),
        )
    ).scalar()
    return project_budget(
        daily, month=month, as_of=as_of, budget_micros=amount, incomplete=bool(unpriced)
    )


def _budget_amount(
    scope: Scope, settings: Settings, tree: TeamTree | None
) -> int | None:
    if scope.kind == "team" and tree is not None:
        team = tree.teams.get(scope.team_id)
        return team.monthly_budget_micros if team else None
    if scope.kind == "org":
        configured = settings.get("organisation.monthly_budget_usd")
        if configured:
            return int(float(configured) * MICROS)
        if tree is not None:
            roots = [
                t.monthly_budget_micros for t in tree.roots() if t.monthly_budget_micros
            ]
            return sum(roots) if roots else None
    return None


def project_budget(
    daily: dict[date, int],
    *,
    month: Period,
    as_of: date,
    budget_micros: int,
    incomplete: bool,
) -> Budget:
    """Month-to-date spend, a month-end forecast from the recent daily run rate, and
    the day the budget is (or would be) crossed."""
    spent = 0
    crossed: date | None = None
    day = month.start
    while day <= as_of:
        spent += daily.get(day, 0)
        if crossed is None and budget_micros and spent >= budget_micros:
            crossed = day
        day += timedelta(days=1)
    elapsed = (as_of - month.start).days + 1
    window = min(RUN_RATE_DAYS, elapsed)
    recent = sum(daily.get(as_of - timedelta(days=back), 0) for back in range(window))
    rate = recent / window if window else 0
    remaining = (month.last_day - as_of).days
    forecast = spent + int(rate * remaining)
    if crossed is None and rate > 0 and budget_micros and forecast >= budget_micros:
        days_needed = (
            -(-(budget_micros - spent) // int(rate)) if int(rate) else remaining
        )
        crossed = as_of + timedelta(days=max(1, days_needed))
    last = calendar.monthrange(month.start.year, month.start.month)[1]
    label = f"{calendar.month_abbr[month.start.month]} 1–{last}"
    return Budget(
        month=month,
        as_of=as_of,
        budget_micros=budget_micros,
        spent_micros=spent,
        forecast_micros=forecast,
        crosses_on=crossed,
        incomplete=incomplete,
        label=label,
    )


async def tool_caps(
    session: AsyncSession,
    *,
    person_id: int,
    period: Period,
    today: date,
    settings: Settings,
) -> list[Budget]:
    """Month-to-date spend against the per-person per-tool monthly cap, per tool used."""
    cap_usd = settings.get("nudges.tool_cap_usd") or 0
    if not cap_usd:
        return []
    cap = int(float(cap_usd) * MICROS)
    as_of = min(today, period.last_day)  # caps as they stood in the period
    month = month_period(as_of.year, as_of.month)
    r = SpendRollup
    rows = await _rows(
        session,
        select(r.tool, r.day, func.sum(r.cost_micros), func.sum(r.unpriced_tokens))
        .where(
            r.scope_kind == "person",
            r.scope_id == person_id,
            r.day >= month.start,
            r.day <= as_of,
        )
        .group_by(r.tool, r.day),
    )
    per_tool: dict[str, dict[date, int]] = defaultdict(dict)
    unpriced: dict[str, int] = defaultdict(int)
    for tool, day, cost, tokens in rows:
        per_tool[tool][day] = int(cost or 0)
        unpriced[tool] += int(tokens or 0)
    caps = []
    for tool in sorted(per_tool):
        status = project_budget(
            per_tool[tool],
            month=month,
            as_of=as_of,
            budget_micros=cap,
            incomplete=bool(unpriced[tool]),
        )
        caps.append(Budget(**{**status.__dict__, "label": f"{tool}, {status.label}"}))
    return caps


# -- teams and the org -------------------------------------------------------

OTHER_TEAMS = "other teams"


def fold_hidden_lines(
    summary: SpendSummary,
    tree: TeamTree,
    *,
    shown: Callable[[int], bool],
    direct_shown: bool,
    min_group: int,
) -> None:
    """Keep the sub-team lines a reader may see and fold the rest into one unnamed
    line; when what is folded covers fewer than ``min_group`` people that line is
    left out too, since it would be one or two people's spend.
    """
    if summary.scope.team_id is None:
        return
    team_id = summary.scope.team_id
    children = tree.children.get(team_id, [])
    kept: list[Line] = []
    folded, folded_people = 0, 0
    for child, line in zip(children, summary.subteams, strict=True):
        if shown(child):
            kept.append(line)
        else:
            folded += line.cost_micros
            folded_people += tree.size(child)
    if not direct_shown and summary.direct_micros is not None:
        folded += summary.direct_micros
        folded_people += tree.members.get(team_id, 0)
        summary.direct_micros = None
    hidden_any = len(kept) < len(children) or not direct_shown
    if hidden_any and children and folded_people >= min_group:
        kept.append(Line(OTHER_TEAMS, folded))
    # TODO: the team total less the lines shown still gives what is left out,
    # because the total stays whole; only no line shows a small group directly.
    summary.subteams = kept


async def _add_team_detail(
    session: AsyncSession, summary: SpendSummary, tree: TeamTree, period: Period
) -> None:
    r = SpendRollup
    rows = await _rows(
        session,
        select(r.scope_id, func.sum(r.cost_micros))
        .where(
            r.scope_kind == "team",
            r.scope_id.in_(summary.scope.ids),
            r.day >= period.start,
            r.day < period.end,
        )
        .group_by(r.scope_id),
    )
    per_team = {team_id: int(total or 0) for team_id, total in rows}
    team_id = summary.scope.team_id
    summary.direct_micros = per_team.get(team_id, 0)
    summary.subteams = [
        Line(
            tree.teams[child].name, sum(per_team.get(t, 0) for t in tree.subtree(child))
        )
        for child in tree.children.get(team_id, [])
    ]
    people = await _rows(
        session,
        select(func.count(func.distinct(r.scope_id)))
        .join(Person, Person.id == r.scope_id)
        .where(
            r.scope_kind == "person",
            Person.team_id.in_(summary.scope.ids),
            r.day >= period.start,
            r.day < period.end,
        ),
    )
    summary.people_with_spend = int(people.scalar() or 0)


async def _unattributed(session: AsyncSession, period: Period) -> int:
    r = SpendRollup
    total = await _rows(
        session,
        select(func.sum(r.cost_micros)).where(
            r.scope_kind == "unattributed",
            r.scope_id == 0,
            r.day >= period.start,
            r.day < period.end,
        ),
    )
    return int(total.scalar() or 0)


@dataclass(frozen=True)
class Gap:
    """Usage that is not in the totals (unpriced) or not tied to a person (unattributed)."""

    name: str
    tokens: int
    requests: int
    cost_micros: int


async def unpriced_models(
    session: AsyncSession, *, start: date, end: date
) -> list[Gap]:
    """Models used in [start, end) that the price table does not know, org-wide."""
    r = SpendRollup
    rows = await _rows(
        session,
        select(r.model, func.sum(r.unpriced_tokens), func.sum(r.unpriced_requests))
        .where(
            r.scope_kind == "org",
            r.scope_id == 0,
            r.day >= start,
            r.day < end,
            r.unpriced_tokens > 0,
        )
        .group_by(r.model)
        .order_by(r.model),
    )
    return [Gap(model, int(t or 0), int(n or 0), 0) for model, t, n in rows]


async def unattributed_usage(
    session: AsyncSession, *, start: date, end: date
) -> list[Gap]:
    """Spend in [start, end) that matched nobody in the directory, per tool."""
    r = SpendRollup
    rows = await _rows(
        session,
        select(r.tool, func.sum(r.cost_micros), func.sum(r.requests))
        .where(
            r.scope_kind == "unattributed", r.scope_id == 0, r.day >= start, r.day < end
        )
        .group_by(r.tool)
        .order_by(r.tool),
    )
    return [Gap(tool, 0, int(n or 0), int(c or 0)) for tool, c, n in rows]
