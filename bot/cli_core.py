"""CLI: ``db upgrade`` and ``people import``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.context import open_database
from usage.db import database_url, session_scope
from usage.directory import import_directory
from usage.ingest import begin_write


def register(subparsers) -> None:
    db = subparsers.add_parser("db", help="create or migrate the schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_sub.add_parser(
        "upgrade", help="create or migrate the schema to the latest"
    )
    upgrade.set_defaults(run=run_upgrade)

    people = subparsers.add_parser("people", help="the people directory")
    people_sub = people.add_subparsers(
        dest="people_command", metavar="ACTION", required=True
    )
    imp = people_sub.add_parser("import", help="load people (and teams) from CSV")
    imp.add_argument("people_csv", type=Path, metavar="PEOPLE.csv")
    imp.add_argument("--teams", type=Path, metavar="TEAMS.csv")
    imp.set_defaults(run=run_people_import)

    register_demo(subparsers)


async def run_upgrade(args) -> int:
    from usage.migrate import upgrade

    await asyncio.to_thread(upgrade, database_url())
    print("database schema is up to date")
    return 0


async def run_people_import(args) -> int:
    async with open_database() as sessions, session_scope(sessions) as session:
        await begin_write(session)
        report = await import_directory(
            session, people_path=args.people_csv, teams_path=args.teams
        )
    print("\n".join(report.lines()))
    return 0


def register_demo(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo", help="fill the database with a demo organisation"
    )
    demo.set_defaults(run=run_demo)


async def run_demo(args) -> int:
    from datetime import UTC, datetime

    from usage.demo import fill_demo
    from usage.ingest import price_table
    from usage.settings import load_settings

    async with open_database() as sessions, session_scope(sessions) as session:
        await begin_write(session)
        settings = await load_settings(session)
        today = datetime.now(UTC).astimezone(settings.reporting_zone).date()
        report = await fill_demo(
            session, end=today, settings=settings, prices=await price_table(settings)
        )
    print("\n".join(report.lines()))
    print("Try: aispend ask --as ada.abara@demo.example team last week")
    return 0
