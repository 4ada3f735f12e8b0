"""CLI: ``aispend ingest SOURCE``, one subcommand per source."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.context import open_database
from usage.errors import UserError
from usage.ingest import (
    ingest_litellm_database,
    ingest_litellm_file,
    ingest_spreadsheet,
)


def register(subparsers) -> None:
    ingest = subparsers.add_parser("ingest", help="import usage from a source")
    sources = ingest.add_subparsers(dest="source", metavar="SOURCE", required=True)
    ingest.set_defaults(_source_parsers=sources)

    csv = sources.add_parser("csv", help="a spend or usage spreadsheet (CSV)")
    csv.add_argument("file", type=Path, metavar="FILE")
    csv.add_argument("--tool", help="tool name for files without a tool column")
    csv.set_defaults(run=run_csv)

    litellm = sources.add_parser(
        "litellm", help="LiteLLM spend logs (CSV export or database)"
    )
    litellm.add_argument("file", type=Path, nargs="?", metavar="FILE")
    litellm.add_argument("--dsn", help="the LiteLLM proxy's PostgreSQL URL")
    litellm.add_argument("--since", help="pull rows from this date (YYYY-MM-DD)")
    litellm.set_defaults(run=run_litellm)


def source_parsers(subparsers):
    """The ``ingest`` command's SOURCE subparsers, so other areas can add sources."""
    return subparsers.choices["ingest"].get_default("_source_parsers")


def print_report(report) -> None:
    print("\n".join(report.lines()))


def parse_day_arg(text: str | None, *, flag: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UserError(
            f"{flag} {text!r} is not a date; write it as YYYY-MM-DD"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def run_csv(args) -> int:
    async with open_database() as sessions:
        report = await ingest_spreadsheet(sessions, path=args.file, tool=args.tool)
    print_report(report)
    return 0


async def run_litellm(args) -> int:
    if bool(args.file) == bool(args.dsn):
        raise UserError(
            "give either a spend-log CSV FILE or --dsn URL, not both or neither"
        )
    async with open_database() as sessions:
        if args.dsn:
            since = parse_day_arg(args.since, flag="--since")
            report = await ingest_litellm_database(sessions, dsn=args.dsn, since=since)
        else:
            report = await ingest_litellm_file(sessions, path=args.file)
    print_report(report)
    return 0
