"""Threshold nudges: a private, kind note when a person's week runs well above
their own usual, with what it went with and tips from their own mix.

A nudge names nobody else and compares a person only with themselves. At most
one per person per ISO week (the ledger key); never to service accounts,
people who opted out, are snoozed or excluded; inside quiet hours it waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from digests import texts
from digests.blocks import (
    Message,
    actions,
    button,
    finalize,
    parse_blocks,
    percent,
    render,
    usd,
)
from digests.schedule import in_quiet_hours, week_key, zone
from usage import ledger
from usage.errors import UserError
from usage.models import LedgerEntry, Person, PersonPrefs, SpendRollup
from usage.periods import Period
from usage.pricing import PriceTable
from usage.settings import Settings
from usage.spend import Line, Scope, Usual, spend_summary, tool_caps

KIND = "nudge"
MICROS = 1_000_000
SNOOZE = timedelta(weeks=2)
PRICEY_SHARE = 0.5
CACHE_WRITE_SHARE = 0.25
LONG_CONTEXT_SHARE = 0.25
MIN_TIP_TOKENS = 1_000_000
MAX_TIPS = 2


@dataclass
class Nudge:
    person: Person
    period: Period
    total_micros: int
    usual: Usual | None
    reasons: list[str]
    tools: list[Line]
    output: dict[str, int]
    tips: list[str]
    not_before: datetime | None = None


@dataclass
class NudgeScan:
    period: Period
    nudges: list[Nudge] = field(default_factory=list)
    held_back: dict[str, int] = field(default_factory=dict)

    def hold(self, reason: str) -> None:
        self.held_back[reason] = self.held_back.get(reason, 0) + 1


def _usd_setting(settings: Settings, key: str) -> int:
    return int(Decimal(str(settings.get(key) or 0)) * MICROS)


async def find_nudges(
    session: AsyncSession,
    *,
    period: Period,
    today: date,
    settings: Settings,
    prices: PriceTable,
    now: datetime,
) -> NudgeScan:
    """Who passes a threshold in ``period``, and who is held back (counts only)."""
    scan = NudgeScan(period)
    if not settings.get("nudges.enabled", True):
        return scan
    excluded = {e.strip().lower() for e in settings.get("excluded.emails") or []}
    people = (
        await session.execute(
            select(Person).where(Person.active.is_(True)).order_by(Person.email)
        )
    ).scalars()
    prefs = {
        p.person_id: p for p in (await session.execute(select(PersonPrefs))).scalars()
    }
    for person in list(people):
        nudge = await _check(session, person, period, today, settings, prices)
        if nudge is None:
            continue
        held = _held_back(person, prefs.get(person.id), excluded, today)
        if held:
            scan.hold(held)
            continue
        mine = prefs.get(person.id)
        nudge.not_before = in_quiet_hours(
            now,
            start=mine.quiet_start if mine else None,
            end=mine.quiet_end if mine else None,
            tz=zone(person.timezone),
        )
        scan.nudges.append(nudge)
    return scan


def _held_back(person, prefs, excluded, today) -> str | None:
    if person.role == "service":
        return "service account"
    if person.email in excluded:
        return "excluded by admins"
    if prefs is not None and prefs.nudges_opt_out:
        return "opted out"
    if prefs is not None and prefs.snoozed_until and prefs.snoozed_until > today:
        return "snoozed"
    return None


async def _check(session, person, period, today, settings, prices) -> Nudge | None:
    summary = await spend_summary(
        session,
        scope=Scope.person(person),
        period=period,
        today=today,
        settings=settings,
    )
    total = summary.total_micros
    reasons = []
    absolute = _usd_setting(settings, "nudges.absolute_usd")
    if absolute and total >= absolute:
        reasons.append(
            f"your week passed {usd(absolute)}, the weekly amount your admins set"
        )
    multiple = float(settings.get("nudges.multiple_of_usual") or 0)
    floor = _usd_setting(settings, "nudges.floor_usd")
    usual = summary.usual
    if (
        multiple
        and usual is not None
        and usual.median_micros > 0
        and total >= multiple * usual.median_micros
        and total >= floor
    ):
        reasons.append(
            f"your week was over {multiple:g}× your usual ({usd(usual.median_micros)}, "
            f"{usual.basis}) and above {usd(floor)}"
        )
    share = float(settings.get("nudges.tool_cap_share") or 0)
    for cap in await tool_caps(
        session, person_id=person.id, period=period, today=today, settings=settings
    ):
        if share and cap.share >= share:
            tool = cap.label.split(",")[0]
            reasons.append(
                f"your {tool} spend this month ({usd(cap.spent_micros)}) passed "
                f"{percent(share)} of the {usd(cap.budget_micros)} monthly cap per person"
            )
    if not reasons:
        return None
    tips = await _tips(session, person, period, settings, prices)
    return Nudge(
        person=person,
        period=period,
        total_micros=total,
        usual=usual,
        reasons=reasons,
        tools=summary.by_tool,
        output=summary.output,
        tips=tips,
    )


async def _mix(session, person: Person, period: Period) -> list[dict]:
    r = SpendRollup
    rows = await session.execute(
        select(
            r.tool,
            r.model,
            func.sum(r.cost_micros),
            func.sum(r.input_tokens),
            func.sum(r.cache_read_tokens),
            func.sum(r.cache_write_tokens),
            func.sum(r.output_tokens),
            func.sum(r.long_context_tokens),
        )
        .where(
            r.scope_kind == "person",
            r.scope_id == person.id,
            r.day >= period.start,
            r.day < period.end,
        )
        .group_by(r.tool, r.model)
    )
    keys = ("tool", "model", "cost", "input", "read", "write", "output", "long")
    return [
        {
            k: (v if i < 2 else int(v or 0))
            for i, (k, v) in enumerate(zip(keys, row, strict=True))
        }
        for row in rows
    ]


def _output_rate(prices: PriceTable, model: str) -> Decimal | None:
    price = prices.lookup(model)
    return price.rate("output") if price is not None else None


async def _tips(session, person, period, settings, prices) -> list[str]:
    mix = await _mix(session, person, period)
    total = sum(row["cost"] for row in mix) or 1
    tips: list[str] = []
    by_model: dict[str, int] = {}
    for row in mix:
        by_model[row["model"]] = by_model.get(row["model"], 0) + row["cost"]
    rates = {m: _output_rate(prices, m) for m in by_model}
    known = {m: rate for m, rate in rates.items() if rate}
    preferred = (settings.get("nudges.preferred_model") or "").strip()
    if known:
        priciest = max(sorted(known), key=lambda m: known[m])
        share = by_model[priciest] / total
        cheaper = [m for m in known if known[m] < known[priciest]]
        alternative = preferred if preferred and preferred != priciest else None
        if alternative is None and cheaper:
            alternative = min(sorted(cheaper), key=lambda m: known[m])
        if share >= PRICEY_SHARE and alternative:
            factor = ""
            alt_rate = known.get(alternative) or _output_rate(prices, alternative)
            if alt_rate:
                factor = f" costs about {known[priciest] / alt_rate:.0f}× less per output token and"
            tips.append(
                f"{percent(share)} of your spend went to {priciest}, the priciest model in "
                f"your mix. {alternative}{factor} handles routine edits and questions well."
            )
    reads = sum(row["input"] + row["read"] + row["write"] for row in mix)
    writes = sum(row["write"] for row in mix)
    if reads >= MIN_TIP_TOKENS and writes / reads >= CACHE_WRITE_SHARE:
        tips.append(
            f"Cache writes were {percent(writes / reads)} of your input tokens. Writes bill "
            "above plain input and reads at a tenth of it: keeping the start of a prompt "
            "stable (same instructions and files first) turns writes into cheap reads."
        )
    all_tokens = reads + sum(row["output"] for row in mix)
    long_tokens = sum(row["long"] for row in mix)
    if all_tokens >= MIN_TIP_TOKENS and long_tokens / all_tokens >= LONG_CONTEXT_SHARE:
        tips.append(
            f"{percent(long_tokens / all_tokens)} of your tokens were in requests with over "
            "200k tokens of context, which bill at a higher rate; a fresh session per "
            "task keeps contexts short."
        )
    tool = (settings.get("nudges.preferred_tool") or "").strip()
    tools = sorted({row["tool"] for row in mix})
    if tool and tools and tool not in tools:
        tips.append(f"Your admins suggest {tool} for day-to-day work.")
    return tips[:MAX_TIPS]


# -- messages and the ledger ------------------------------------------------


def render_nudge(nudge: Nudge, *, ledger_id: int | None) -> Message:
    """The private note; its buttons carry the ledger id."""
    blocks = parse_blocks(
        render(
            "nudge.j2",
            nudge=nudge,
            first_name=nudge.person.name.split()[0],
            week=week_key(nudge.period),
            output=texts.output_parts(nudge.output),
        )
    )
    value = str(ledger_id or 0)
    blocks.append(
        actions(
            [
                button(
                    label, action_id=f"aispend_nudge_{action}", value=value, style=style
                )
                for action, label, style in texts.NUDGE_BUTTONS
            ],
            block_id="aispend_nudge",
        )
    )
    text = render("nudge_fallback.j2", nudge=nudge, week=week_key(nudge.period))
    return finalize(text, blocks, overflow_note=texts.OVERFLOW)


async def plan_nudges(session: AsyncSession, scan: NudgeScan, *, now: datetime) -> int:
    """Write the scan's nudges to the ledger (at most one per person and week)."""
    period = week_key(scan.period)
    by_email = {n.person.email: n for n in scan.nudges}
    items = [
        ledger.Planned(
            KIND,
            nudge.person.email,
            period,
            {
                "target": {
                    "email": nudge.person.email,
                    "slack_user_id": nudge.person.slack_user_id,
                },
                "reasons": nudge.reasons,
            },
            not_before=nudge.not_before,
        )
        for nudge in scan.nudges
    ]
    new = await ledger.plan_new(session, items, now=now)
    for (_, email, _), entry_id in new.items():
        message = render_nudge(by_email[email], ledger_id=entry_id)
        await ledger.set_detail(session, entry_id, message=message.payload())
    return len(new)


async def handle_response(
    session: AsyncSession,
    *,
    ledger_id: int,
    action: str,
    today: date,
    now: datetime,
    slack_user_id: str | None = None,
) -> Message:
    """Record a button answer on a nudge and return the updated message."""
    entry = await session.get(LedgerEntry, ledger_id)
    if entry is None or entry.kind != KIND:
        raise UserError("this note is no longer on record; nothing was changed")
    target = (entry.detail or {}).get("target") or {}
    owner = target.get("slack_user_id")
    if slack_user_id and owner and slack_user_id != owner:
        raise UserError("only the person this note was sent to can answer it")
    await ledger.record_response(session, ledger_id, response=action, now=now)
    person = (
        await session.execute(select(Person).where(Person.email == entry.recipient))
    ).scalar_one_or_none()
    until = None
    if person is not None and action in ("snooze", "stop"):
        prefs = await session.get(PersonPrefs, person.id)
        if prefs is None:
            prefs = PersonPrefs(person_id=person.id)
            session.add(prefs)
        if action == "snooze":
            until = today + SNOOZE
            prefs.snoozed_until = until
        else:
            prefs.nudges_opt_out = True
        prefs.updated_at = now
    original = (entry.detail or {}).get("message") or {}
    kept = [b for b in original.get("blocks", []) if b.get("type") != "actions"]
    if action == "why":
        kept = original.get("blocks", [])  # the buttons stay; the answer follows
    answer = parse_blocks(
        render(
            "nudge_response.j2",
            action=action,
            reasons=(entry.detail or {}).get("reasons") or [],
            until=until,
        )
    )
    if action == "why":
        blocks = (
            [b for b in kept if b.get("type") != "actions"]
            + answer
            + [b for b in kept if b.get("type") == "actions"]
        )
    else:
        blocks = kept + answer
    return finalize(
        original.get("text") or "Your AI spend note",
        blocks,
        overflow_note=texts.OVERFLOW,
    )


async def nudge_feedback(session: AsyncSession, *, since: date | None = None) -> dict:
    """How nudges were answered: counts per button, and the share found helpful."""
    query = select(LedgerEntry.response, func.count()).where(
        LedgerEntry.kind == KIND, LedgerEntry.state == "sent"
    )
    if since is not None:
        query = query.where(LedgerEntry.period >= week_key_for(since))
    counts: dict[str | None, int] = dict(
        (await session.execute(query.group_by(LedgerEntry.response))).all()
    )
    sent = sum(counts.values())
    answered = sum(n for r, n in counts.items() if r)
    helpful = counts.get("thanks", 0)
    return {
        "sent": sent,
        "answered": answered,
        "responses": {r: n for r, n in counts.items() if r},
        "helpful_share": helpful / answered if answered else None,
    }


def week_key_for(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"
