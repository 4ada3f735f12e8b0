"""CLI: ``aispend digest …``, ``aispend nudges …`` and ``aispend alerts check``."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from bot.context import open_database
from bot.delivery import Deliverer
from bot.slack_client import SlackClient
from commands.message import Message as TerminalMessage
from commands.message import to_plain_text
from digests import alerts, nudges, weekly
from digests.schedule import week_before, week_key
from usage import ledger
from usage.errors import UserError
from usage.ingest import begin_write, price_table
from usage.models import utcnow
from usage.periods import Period, iso_week
from usage.settings import Settings, load_settings

DEFAULT_CLAIM_SECONDS = 300


def register(subparsers) -> None:
    digest = subparsers.add_parser("digest", help="the weekly manager digest")
    actions = digest.add_subparsers(
        dest="digest_command", metavar="ACTION", required=True
    )
    preview = actions.add_parser(
        "preview", help="show a manager's digest without sending"
    )
    preview.add_argument("--manager", required=True, metavar="EMAIL")
    _week_options(preview, json_flag=True)
    preview.set_defaults(run=run_digest_preview)
    send = actions.add_parser("send", help="send the week's digests now")
    send.add_argument("--manager", action="append", metavar="EMAIL", help="only these")
    _week_options(send)
    send.set_defaults(run=run_digest_send)
    status = actions.add_parser(
        "status", help="what went out, what was skipped and why"
    )
    _week_options(status, json_flag=True)
    status.set_defaults(run=run_digest_status)

    nudge = subparsers.add_parser("nudges", help="private threshold nudges")
    nudge_actions = nudge.add_subparsers(
        dest="nudges_command", metavar="ACTION", required=True
    )
    preview = nudge_actions.add_parser(
        "preview", help="who would get a nudge, and the note"
    )
    _week_options(preview, json_flag=True)
    preview.set_defaults(run=run_nudges_preview)
    send = nudge_actions.add_parser("send", help="send the week's nudges now")
    _week_options(send)
    send.set_defaults(run=run_nudges_send)

    alert = subparsers.add_parser("alerts", help="spike and budget alerts")
    alert_actions = alert.add_subparsers(
        dest="alerts_command", metavar="ACTION", required=True
    )
    check = alert_actions.add_parser("check", help="which alerts hold now")
    check.add_argument("--json", action="store_true", help="print the Slack payloads")
    check.add_argument("--send", action="store_true", help="also send the new ones")
    check.add_argument(
        "--today", metavar="YYYY-MM-DD", help="check as if today were this day"
    )
    check.set_defaults(run=run_alerts_check)


def _week_options(parser, *, json_flag: bool = False) -> None:
    parser.add_argument(
        "--week", metavar="YYYY-Www", help="default: the last full week"
    )
    parser.add_argument(
        "--today", metavar="YYYY-MM-DD", help="as if today were this day"
    )
    if json_flag:
        parser.add_argument(
            "--json", action="store_true", help="print the Slack payload"
        )


def _today(args, settings: Settings) -> date:
    if getattr(args, "today", None):
        try:
            return date.fromisoformat(args.today)
        except ValueError as exc:
            raise UserError(
                f"--today {args.today!r} is not a date; write YYYY-MM-DD"
            ) from exc
    return utcnow().astimezone(settings.reporting_zone).date()


def _week(args, settings: Settings, today: date) -> Period:
    if getattr(args, "week", None):
        return iso_week(args.week)
    start = datetime.combine(today, datetime.min.time(), tzinfo=settings.reporting_zone)
    return week_before(start, settings.reporting_zone)


def _show(message, as_json: bool) -> str:
    if as_json:
        return json.dumps(message.payload(), indent=2, ensure_ascii=False)
    return to_plain_text(TerminalMessage(message.text, message.blocks))


def _deliverer(sessions, settings: Settings, client: SlackClient) -> Deliverer:
    hold = timedelta(
        seconds=float(settings.get("delivery.claim_seconds", DEFAULT_CLAIM_SECONDS))
    )
    return Deliverer(sessions=sessions, client=client, hold=hold)


async def run_digest_preview(args) -> int:
    async with open_database() as sessions, sessions() as session:
        settings = await load_settings(session)
        today = _today(args, settings)
        digest = await weekly.build_digest(
            session,
            manager_email=args.manager,
            period=_week(args, settings, today),
            today=today,
            settings=settings,
        )
        print(_show(weekly.render_digest(digest), args.json))
    return 0


async def run_digest_send(args) -> int:
    client = SlackClient.from_env()
    async with open_database() as sessions:
        async with sessions() as session:
            await begin_write(session)
            settings = await load_settings(session)
            today = _today(args, settings)
            period = _week(args, settings, today)
            planned = await weekly.plan_digests(
                session,
                period=period,
                today=today,
                settings=settings,
                now=utcnow(),
                only=args.manager,
            )
            await session.commit()
        report = await _deliverer(sessions, settings, client).deliver_due(
            kinds=[weekly.DIGEST_KIND], period=week_key(period)
        )
    print(f"digests for {week_key(period)}: {planned} new")
    print("\n".join(report.lines()))
    return 1 if report.stopped else 0


async def run_digest_status(args) -> int:
    async with open_database() as sessions, sessions() as session:
        settings = await load_settings(session)
        period = _week(args, settings, _today(args, settings))
        key = week_key(period)
        rows = await ledger.entries(
            session, kinds=[weekly.DIGEST_KIND, nudges.KIND], period=key
        )
        feedback = await nudges.nudge_feedback(session)
    if args.json:
        print(
            json.dumps(
                {
                    "week": key,
                    "entries": [
                        {
                            "kind": r.kind,
                            "recipient": r.recipient,
                            "state": r.state,
                            "reason": r.reason,
                            "attempts": r.attempts,
                        }
                        for r in rows
                    ],
                    "nudge_feedback": feedback,
                },
                indent=2,
            )
        )
        return 0
    print(f"week {key}")
    if not rows:
        print("  nothing planned yet (`aispend digest send` or the scheduler plans it)")
    for row in rows:
        why = f": {row.reason}" if row.reason else ""
        print(f"  {row.kind:<7} {row.recipient:<40} {row.state}{why}")
    helpful = feedback["helpful_share"]
    print(
        f"nudges answered: {feedback['answered']} of {feedback['sent']} sent"
        + (f"; found helpful: {helpful * 100:.0f}%" if helpful is not None else "")
    )
    return 0


async def _scan(session, args):
    settings = await load_settings(session)
    today = _today(args, settings)
    period = _week(args, settings, today)
    scan = await nudges.find_nudges(
        session,
        period=period,
        today=max(today, period.last_day),
        settings=settings,
        prices=await price_table(settings),
        now=utcnow(),
    )
    return settings, scan


async def run_nudges_preview(args) -> int:
    async with open_database() as sessions, sessions() as session:
        _, scan = await _scan(session, args)
    if args.json:
        payloads = [
            {
                "recipient": n.person.email,
                "message": nudges.render_nudge(n, ledger_id=None).payload(),
            }
            for n in scan.nudges
        ]
        print(json.dumps(payloads, indent=2, ensure_ascii=False))
        return 0
    key = week_key(scan.period)
    print(f"nudges for {key}: {len(scan.nudges)}")
    held = ", ".join(f"{why}: {n}" for why, n in sorted(scan.held_back.items()))
    if held:
        print(f"held back (counts only): {held}")
    for nudge in scan.nudges:
        wait = (
            f" (waits for quiet hours to end: {nudge.not_before:%a %H:%M} UTC)"
            if nudge.not_before
            else ""
        )
        print(f"\n--- to {nudge.person.name} <{nudge.person.email}>{wait}")
        print(_show(nudges.render_nudge(nudge, ledger_id=None), False), end="")
    return 0


async def run_nudges_send(args) -> int:
    client = SlackClient.from_env()
    async with open_database() as sessions:
        async with sessions() as session:
            await begin_write(session)
            settings, scan = await _scan(session, args)
            planned = await nudges.plan_nudges(session, scan, now=utcnow())
            await session.commit()
        report = await _deliverer(sessions, settings, client).deliver_due(
            kinds=[nudges.KIND], period=week_key(scan.period)
        )
    print(f"nudges for {week_key(scan.period)}: {planned} new")
    print("\n".join(report.lines()))
    return 1 if report.stopped else 0


async def run_alerts_check(args) -> int:
    client = SlackClient.from_env() if args.send else None
    async with open_database() as sessions:
        async with sessions() as session:
            await begin_write(session)
            settings = await load_settings(session)
            found = await alerts.check_alerts(
                session, today=_today(args, settings), settings=settings
            )
            planned = 0
            if args.send:
                planned = await alerts.plan_alerts(session, found, now=utcnow())
                await session.commit()
        report = None
        if args.send:
            report = await _deliverer(sessions, settings, client).deliver_due(
                kinds=[alerts.SPIKE_KIND, alerts.BUDGET_KIND, alerts.CAP_KIND]
            )
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "kind": a.kind,
                        "about": a.key,
                        "period": a.period,
                        "recipients": [r for r, _ in a.recipients],
                        "message": alerts.render_alert(a, ledger_id=None).payload(),
                    }
                    for a in found
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        print(f"alerts that hold: {len(found)}")
        for alert in found:
            message = alerts.render_alert(alert, ledger_id=None)
            print(f"  {alert.kind} {alert.period} {alert.key}: {message.text}")
    if report is not None:
        print(f"new alerts planned: {planned}")
        print("\n".join(report.lines()))
    return 1 if report is not None and report.stopped else 0
