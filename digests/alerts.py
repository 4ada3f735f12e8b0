"""Spike and budget alerts for managers (and the alerts channel, if set).

- A team's day far above its usual (see :mod:`digests.anomalies`), once per
  team and day.
- A team's monthly budget passing 50%, 80% and 100%, and being on pace to
  exceed it, once per threshold per month (a later, higher threshold makes
  the lower ones it jumped over moot).
- A person's own monthly cap per tool: they are told privately; their
  manager's digest shows only how many.

"Expected" on an alert makes that team's spike check less sensitive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from digests import texts
from digests.anomalies import Anomaly, find_anomalies
from digests.blocks import Message, actions, button, finalize, parse_blocks, render
from digests.weekly import spike_multiple
from usage import ledger
from usage.directory import TeamTree
from usage.errors import UserError
from usage.models import LedgerEntry, Person, Team
from usage.periods import make_range, month_period
from usage.settings import Settings, load_settings, store_setting
from usage.spend import Budget, Scope, spend_summary, tool_caps

THRESHOLDS = (0.5, 0.8, 1.0)
SPIKE_KIND = "spike_alert"
BUDGET_KIND = "budget_alert"
CAP_KIND = "cap_alert"
EXPECTED_STEP = 1.5


@dataclass
class Alert:
    kind: str
    key: str  # what the alert is about, unique per period: team id, threshold
    period: str
    team: Team | None
    recipients: list[tuple[str, dict]]  # (ledger recipient, delivery target)
    spike: Anomaly | None = None
    budget: Budget | None = None
    threshold: str = ""
    person: Person | None = None


async def check_alerts(
    session: AsyncSession, *, today: date, settings: Settings
) -> list[Alert]:
    """Every alert that holds for the days up to yesterday (``today`` is running)."""
    tree = await TeamTree.load(session)
    day = today - timedelta(days=1)
    people = {
        p.email: p
        for p in (
            await session.execute(select(Person).where(Person.active.is_(True)))
        ).scalars()
    }
    channel = (settings.get("alerts.channel") or "").strip()
    found: list[Alert] = []
    for team in sorted(tree.teams.values(), key=lambda t: t.name.lower()):
        recipients = _recipients(team, people, channel)
        if not recipients:
            continue
        scope = Scope.team(tree, team)
        for anomaly in await find_anomalies(
            session,
            scope=scope,
            start=day,
            end=day + timedelta(days=1),
            multiple=spike_multiple(settings, team.id),
            floor_usd=settings.get("alerts.spike_floor_usd") or 0,
        ):
            found.append(
                Alert(
                    SPIKE_KIND,
                    f"team:{team.id}",
                    anomaly.day.isoformat(),
                    team,
                    recipients,
                    spike=anomaly,
                )
            )
        found += await _budget_alerts(
            session, tree, team, scope, day, settings, recipients
        )
    found += await _cap_alerts(session, people, day, settings)
    return found


def _recipients(team: Team, people: dict[str, Person], channel: str):
    recipients = []
    manager = people.get(team.manager_email or "")
    if manager is not None:
        recipients.append(
            (
                manager.email,
                {"email": manager.email, "slack_user_id": manager.slack_user_id},
            )
        )
    if channel:
        recipients.append((f"#{channel.lstrip('#')}", {"channel": channel.lstrip("#")}))
    return recipients


async def _budget_alerts(session, tree, team, scope, day, settings, recipients):
    if not team.monthly_budget_micros:
        return []
    month = month_period(day.year, day.month)
    summary = await spend_summary(
        session,
        scope=scope,
        period=make_range(month.start, day + timedelta(days=1)),
        today=day,
        settings=settings,
        tree=tree,
    )
    budget = summary.budget
    if budget is None:
        return []
    passed = [t for t in THRESHOLDS if budget.share >= t]
    period = f"{month.start:%Y-%m}"
    alerts = []
    if passed:
        threshold = f"{passed[-1] * 100:.0f}%"
        alerts.append(
            Alert(
                BUDGET_KIND,
                f"team:{team.id}:{threshold}",
                period,
                team,
                recipients,
                budget=budget,
                threshold=threshold,
            )
        )
    if budget.share < 1.0 and budget.forecast_share >= 1.0:
        alerts.append(
            Alert(
                BUDGET_KIND,
                f"team:{team.id}:pace",
                period,
                team,
                recipients,
                budget=budget,
                threshold="pace",
            )
        )
    return alerts


async def _cap_alerts(session, people, day, settings):
    share = float(settings.get("nudges.tool_cap_share") or 0)
    if not share:
        return []
    month = month_period(day.year, day.month)
    period = make_range(month.start, day + timedelta(days=1))
    alerts = []
    for person in sorted(people.values(), key=lambda p: p.email):
        if person.role == "service":
            continue
        for cap in await tool_caps(
            session, person_id=person.id, period=period, today=day, settings=settings
        ):
            if cap.share >= share:
                tool = cap.label.split(",")[0]
                target = {"email": person.email, "slack_user_id": person.slack_user_id}
                alerts.append(
                    Alert(
                        CAP_KIND,
                        f"{tool}:{share:g}",
                        f"{month.start:%Y-%m}",
                        None,
                        [(person.email, target)],
                        budget=cap,
                        threshold=tool,
                        person=person,
                    )
                )
    return alerts


def render_alert(alert: Alert, *, ledger_id: int | None) -> Message:
    blocks = parse_blocks(render("alert.j2", alert=alert))
    if alert.kind != CAP_KIND:
        value = str(ledger_id or 0)
        blocks.append(
            actions(
                [
                    button(
                        label,
                        action_id=f"aispend_alert_{action}",
                        value=value,
                        style=style,
                    )
                    for action, label, style in texts.ALERT_BUTTONS
                ],
                block_id="aispend_alert",
            )
        )
    text = render("alert_fallback.j2", alert=alert)
    return finalize(text, blocks, overflow_note=texts.OVERFLOW)


async def plan_alerts(
    session: AsyncSession, alerts: list[Alert], *, now: datetime
) -> int:
    """Write alerts to the ledger, one entry per recipient; repeats do nothing."""
    planned = 0
    for alert in alerts:
        if alert.kind == BUDGET_KIND and alert.threshold not in ("pace",):
            await _retire_lower_thresholds(session, alert, now)
        for recipient, target in alert.recipients:
            item = ledger.Planned(
                alert.kind,
                recipient,
                f"{alert.period}|{alert.key}",
                {"target": target, "team_id": alert.team.id if alert.team else None},
            )
            new = await ledger.plan_new(session, [item], now=now)
            for entry_id in new.values():
                message = render_alert(alert, ledger_id=entry_id)
                await ledger.set_detail(session, entry_id, message=message.payload())
                planned += 1
    return planned


async def _retire_lower_thresholds(session, alert: Alert, now: datetime) -> None:
    """A budget that jumped past 50% and 80% at once gets the 80% alert only."""
    current = float(alert.threshold.rstrip("%")) / 100
    for lower in THRESHOLDS:
        if lower >= current:
            break
        name = f"{lower * 100:.0f}%"
        for recipient, target in alert.recipients:
            item = ledger.Planned(
                alert.kind,
                recipient,
                f"{alert.period}|team:{alert.team.id}:{name}",
                {"target": target},
            )
            await ledger.record_skip(
                session,
                item,
                reason=f"superseded by the {alert.threshold} alert",
                now=now,
            )


async def handle_alert_response(
    session: AsyncSession, *, ledger_id: int, action: str, now: datetime, actor: str
) -> Message:
    """Record "expected"/"not expected"; "expected" makes the team's spike check calmer."""
    entry = await session.get(LedgerEntry, ledger_id)
    if entry is None or entry.kind not in (SPIKE_KIND, BUDGET_KIND):
        raise UserError("this alert is no longer on record; nothing was changed")
    await ledger.record_response(session, ledger_id, response=action, now=now)
    team_id = (entry.detail or {}).get("team_id")
    raised_to = None
    if action == "expected" and entry.kind == SPIKE_KIND and team_id is not None:
        settings = await load_settings(session)
        raised_to = round(spike_multiple(settings, team_id) * EXPECTED_STEP, 2)
        await store_setting(
            session, key=f"alerts.team_multiple.{team_id}", value=raised_to, actor=actor
        )
    original = (entry.detail or {}).get("message") or {}
    kept = [b for b in original.get("blocks", []) if b.get("type") != "actions"]
    answer = parse_blocks(
        render("alert_response.j2", action=action, raised_to=raised_to)
    )
    return finalize(
        original.get("text") or "AI spend alert",
        kept + answer,
        overflow_note=texts.OVERFLOW,
    )
