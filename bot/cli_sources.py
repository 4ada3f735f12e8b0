"""CLI: vendor API sources under ``aispend ingest``, and ``aispend sources``."""

from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal

from bot import cli_ingest
from bot.context import open_database
from usage.errors import ConfigError, PagingError, UserError
from usage.reconcile import billed_tools, reconcile_by_week
from usage.settings import file_settings, load_settings
from usage.sources import anthropic, claude_code, cursor, github, openai
from usage.sources.catalog import source_statuses
from usage.sources.http import SourceError

FAR_PAST, FAR_FUTURE = date(1970, 1, 1), date(9999, 1, 1)


def register(subparsers) -> None:
    sources = cli_ingest.source_parsers(subparsers)

    parser = _http_source(sources, "anthropic", "Anthropic Admin API usage report")
    parser.add_argument(
        "--costs", action="store_true", help="pull the cost report (billed) instead"
    )
    parser.set_defaults(run=run_anthropic)

    parser = _http_source(sources, "openai", "OpenAI organization usage")
    parser.add_argument(
        "--costs", action="store_true", help="pull billed costs per project instead"
    )
    parser.set_defaults(run=run_openai)

    parser = _http_source(sources, "claude-code", "Claude Code analytics")
    parser.set_defaults(run=run_claude_code)

    parser = _http_source(sources, "cursor", "Cursor Admin API usage events")
    parser.set_defaults(run=run_cursor)

    parser = _http_source(sources, "github", "merged pull requests (GitHub search)")
    parser.add_argument(
        "--org", help="the GitHub organisation (or [sources.github] org)"
    )
    parser.set_defaults(run=run_github)

    status = subparsers.add_parser(
        "sources", help="each source: last pull, coverage, rows, errors"
    )
    status.add_argument(
        "--reconcile",
        action="store_true",
        help="billed vs attributed spend per ISO week, from the cost reports",
    )
    status.add_argument("--tool", help="reconcile this tool only (e.g. anthropic-api)")
    status.add_argument("--since", help="first day to reconcile (YYYY-MM-DD)")
    status.add_argument("--until", help="last day to reconcile (YYYY-MM-DD)")
    status.set_defaults(run=run_sources)


def _http_source(sources, name: str, what: str):
    parser = sources.add_parser(name, help=what)
    parser.add_argument(
        "--since", help="first day to pull (YYYY-MM-DD; default: resume)"
    )
    parser.add_argument("--until", help="last day to pull, inclusive (default: today)")
    parser.add_argument("--base-url", help="the API's base URL (for proxies and tests)")
    return parser


def parse_date(text: str | None, *, flag: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise UserError(
            f"{flag} {text!r} is not a date; write it as YYYY-MM-DD"
        ) from exc


def require_key(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"set {name} to pull this source (it is not set)")
    return value


def base_url(args, source: str, default: str) -> str:
    configured = file_settings().get(f"sources.{source}.base_url")
    return args.base_url or configured or default


def _window(args) -> dict:
    return {
        "since": parse_date(args.since, flag="--since"),
        "until": parse_date(args.until, flag="--until"),
    }


async def _pull(ingest, **kwargs) -> int:
    try:
        async with open_database() as sessions:
            report = await ingest(sessions, **kwargs)
    except PagingError as exc:
        raise SourceError(str(exc)) from exc
    cli_ingest.print_report(report)
    return 0


async def run_anthropic(args) -> int:
    window = _window(args)
    api = anthropic.client(
        api_key=require_key(anthropic.KEY_ENV),
        base_url=base_url(args, "anthropic", anthropic.DEFAULT_BASE_URL),
    )
    ingest = anthropic.ingest_costs if args.costs else anthropic.ingest_usage
    async with api:
        return await _pull(ingest, api=api, **window)


async def run_openai(args) -> int:
    window = _window(args)
    api = openai.client(
        api_key=require_key(openai.KEY_ENV),
        base_url=base_url(args, "openai", openai.DEFAULT_BASE_URL),
    )
    ingest = openai.ingest_costs if args.costs else openai.ingest_usage
    async with api:
        return await _pull(ingest, api=api, **window)


async def run_claude_code(args) -> int:
    window = _window(args)
    api = anthropic.client(
        api_key=require_key(anthropic.KEY_ENV),
        base_url=base_url(args, "claude-code", anthropic.DEFAULT_BASE_URL),
    )
    async with api:
        return await _pull(claude_code.ingest, api=api, **window)


async def run_cursor(args) -> int:
    window = _window(args)
    api = cursor.client(
        api_key=require_key(cursor.KEY_ENV),
        base_url=base_url(args, "cursor", cursor.DEFAULT_BASE_URL),
    )
    async with api:
        return await _pull(cursor.ingest, api=api, **window)


async def run_github(args) -> int:
    window = _window(args)
    org = args.org or file_settings().get("sources.github.org")
    if not org:
        raise UserError("give --org ORG (or set org under [sources.github])")
    api = github.client(
        api_key=require_key(github.KEY_ENV),
        base_url=base_url(args, "github", github.DEFAULT_BASE_URL),
    )
    async with api:
        return await _pull(github.ingest, api=api, org=org, **window)


# -- aispend sources --------------------------------------------------------------


def usd(micros: int | None) -> str:
    if micros is None:
        return "-"
    return f"${Decimal(micros) / 1_000_000:,.2f}"


async def run_sources(args) -> int:
    async with open_database() as sessions, sessions() as session:
        settings = await load_settings(session)
        if args.reconcile:
            lines = await _reconciliation(
                session,
                args,
                zone=settings.get("organisation.reporting_timezone", "UTC"),
            )
        else:
            lines = status_lines(await source_statuses(session, settings=settings))
    print("\n".join(lines))
    return 0


def status_lines(statuses) -> list[str]:
    lines = [
        f"{'source':<20} {'last good pull (UTC)':<21} {'coverage':<23} {'rows':>7}"
    ]
    for status in statuses:
        if not status.pulled:
            lines.append(f"{status.source:<20} never pulled  ({status.description})")
            continue
        when = (
            status.last_success_at.strftime("%Y-%m-%d %H:%M")
            if status.last_success_at
            else "never"
        )
        covered = (
            f"{status.covered_from}..{status.covered_to}"
            if status.covered_from
            else "-"
        )
        lines.append(f"{status.source:<20} {when:<21} {covered:<23} {status.rows:>7}")
        if status.last_error:
            lines.append(f"{'':<20} last attempt failed: {status.last_error}")
    return lines


async def _reconciliation(session, args, *, zone: str) -> list[str]:
    start = parse_date(args.since, flag="--since") or FAR_PAST
    last = parse_date(args.until, flag="--until")
    end = last + timedelta(days=1) if last else FAR_FUTURE
    tools = [args.tool] if args.tool else await billed_tools(session)
    if not tools:
        return ["no cost report is stored yet; run `aispend ingest anthropic --costs`"]
    lines = []
    for tool in tools:
        weeks = await reconcile_by_week(session, tool=tool, start=start, end=end)
        lines.append(f"{tool}: billed vs attributed per ISO week ({zone})")
        lines.append(
            f"  {'week':<9} {'billed':>12} {'attributed':>12} {'unattributed':>13} {'gap':>12}"
        )
        for week in weeks:
            lines.append(
                f"  {week.week:<9} {usd(week.billed_micros):>12} "
                f"{usd(week.attributed_micros):>12} {usd(week.unattributed_micros):>13} "
                f"{usd(week.gap_micros):>12}"
            )
        if not weeks:
            lines.append("  nothing billed or attributed in this period")
    return lines
