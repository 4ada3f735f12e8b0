"""CLI: ``aispend ask``, exactly what ``/aispend TEXT`` would show a person."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from bot.context import open_database
from commands import answer, to_plain_text
from usage.directory import person_by_email
from usage.errors import UserError
from usage.settings import load_settings


def register(subparsers) -> None:
    ask = subparsers.add_parser(
        "ask", help="answer what /aispend TEXT would show a person"
    )
    ask.add_argument(
        "--as", dest="email", required=True, metavar="EMAIL", help="who asks"
    )
    ask.add_argument("--json", action="store_true", help="print the Slack payload")
    ask.add_argument(
        "--today", metavar="YYYY-MM-DD", help="answer as if today were this day"
    )
    ask.add_argument("text", nargs="*", metavar="TEXT", help="what follows /aispend")
    ask.set_defaults(run=run_ask)


def parse_today(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UserError(
            f"--today {text!r} is not a date; write it as YYYY-MM-DD"
        ) from exc


def today_in_reporting_zone(settings, now: datetime | None = None) -> date:
    now = now or datetime.now(UTC)
    return now.astimezone(settings.reporting_zone).date()


async def run_ask(args) -> int:
    given_today = parse_today(args.today)
    async with open_database() as sessions, sessions() as session:
        asker = await person_by_email(session, args.email)
        if asker is None:
            raise UserError(
                f"{args.email} is not in the directory; import it with `aispend people import`"
            )
        settings = await load_settings(session)
        today = given_today or today_in_reporting_zone(settings)
        message = await answer(
            session, asker=asker, text=" ".join(args.text), today=today
        )
    if args.json:
        print(json.dumps(message.payload(), indent=2, ensure_ascii=False))
    else:
        print(to_plain_text(message), end="")
    return 0
