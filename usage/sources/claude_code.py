"""``aispend ingest claude-code``: Claude Code analytics from the Anthropic Admin API.

One record per person (or API key), day and terminal: sessions, lines,
commits and pull requests made with Claude Code, edit tool decisions, and an
estimated cost per model in cents. The API answers one UTC day per request
(``starting_at``), paged by ``has_more``/``next_page``; a pull asks day by day.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from usage.models import utcnow
from usage.pricing import Tokens
from usage.sources.anthropic import KEY_NAME_KIND, cents_to_usd
from usage.sources.http import Clock, VendorClient, cursor_pages
from usage.sources.identities import IdentityFact, key_map, remember
from usage.sources.pull import Pull, SliceContext, Window
from usage.sources.tabular import BadValue
from usage.sources.tabular import count_field as _count
from usage.store import ImportReport, OutputRow, UsageRow

SOURCE = "claude-code"
TOOL = "claude-code"
PATH = "/v1/organizations/usage_report/claude_code"
PAGE_LIMIT = 1000
EDIT_TOOLS = ("edit_tool", "multi_edit_tool", "write_tool", "notebook_edit_tool")


async def fetch_days(api: VendorClient, window: Window) -> list[dict]:
    """Every record of every day in ``window``; records for other days are dropped."""
    records = []
    day = window.start
    while day < window.end:
        params = [("starting_at", day.isoformat()), ("limit", PAGE_LIMIT)]
        async for page in cursor_pages(api, PATH, params, where=f"analytics {day}"):
            records.extend(
                record
                for record in page["data"]
                if isinstance(record, dict) and record_day(record) == day
            )
        day += timedelta(days=1)
    return records


def record_day(record: Mapping) -> date | None:
    try:
        return date.fromisoformat(str(record.get("date", ""))[:10])
    except ValueError:
        return None


def actor_identity(actor: object) -> tuple[str, str]:
    """(kind, identity) of a record's actor: a person's email or an API key name."""
    if isinstance(actor, Mapping):
        if actor.get("email_address"):
            return "email", str(actor["email_address"]).strip().lower()
        if actor.get("api_key_name"):
            return KEY_NAME_KIND, str(actor["api_key_name"])
    raise BadValue("the record has no actor")


@dataclass
class Rows:
    usage: list[UsageRow]
    output: list[OutputRow]


def read_records(records: list[dict], *, report: ImportReport) -> Rows:
    rows = Rows([], [])
    for index, record in enumerate(records):
        report.rows_read += 1
        location = f"record {record.get('date')} #{index + 1}"
        try:
            kind, identity = actor_identity(record.get("actor"))
            base = "|".join(
                (
                    str(record_day(record)),
                    identity,
                    str(record.get("terminal_type") or ""),
                    str(record.get("customer_type") or ""),
                )
            )
            output = list(_output(record, base, kind, identity, location))
            usage = list(_usage(record, base, kind, identity, location, report))
        except BadValue as exc:
            report.reject(location, str(exc))
            continue
        rows.output.extend(output)
        rows.usage.extend(usage)
    return rows


def _output(record, base, kind, identity, location) -> Iterator[OutputRow]:
    day = record_day(record)
    core = record.get("core_metrics") or {}
    lines = core.get("lines_of_code") or {}
    actions = record.get("tool_actions") or {}
    decisions = [actions.get(name) or {} for name in EDIT_TOOLS]
    metrics = {
        "claude_code_sessions": core.get("num_sessions"),
        "lines_added": lines.get("added"),
        "lines_removed": lines.get("removed"),
        "claude_code_commits": core.get("commits_by_claude_code"),
        "claude_code_prs": core.get("pull_requests_by_claude_code"),
        "edits_accepted": sum(
            _count(d.get("accepted"), name="accepted") for d in decisions
        ),
        "edits_rejected": sum(
            _count(d.get("rejected"), name="rejected") for d in decisions
        ),
    }
    for metric, value in metrics.items():
        yield OutputRow(
            source_key=f"{base}|{metric}",
            identity=identity,
            identity_kind=kind,
            day=day,
            metric=metric,
            value=_count(value, name=metric),
            location=location,
        )


def _usage(record, base, kind, identity, location, report) -> Iterator[UsageRow]:
    # A subscription seat is not billed per token: a missing estimate stays
    # missing instead of being priced like API traffic.
    api_billed = str(record.get("customer_type") or "api") == "api"
    for part in record.get("model_breakdown") or []:
        model = str(part.get("model") or "unknown")
        tokens = part.get("tokens") or {}
        cost = part.get("estimated_cost") or {}
        currency = str(cost.get("currency") or "USD").upper()
        if currency != "USD":
            report.reject(f"{location} {model}", f"currency {currency} is not USD")
            continue
        amount = cost.get("amount")
        yield UsageRow(
            source_key=f"{base}|{model}",
            identity=identity,
            identity_kind=kind,
            tool=TOOL,
            model=model,
            day=record_day(record),
            tokens=Tokens(
                input=_count(tokens.get("input"), name="input"),
                cache_read=_count(tokens.get("cache_read"), name="cache_read"),
                cache_write_5m=_count(
                    tokens.get("cache_creation"), name="cache_creation"
                ),
                output=_count(tokens.get("output"), name="output"),
            ),
            requests=0,
            source_cost=cents_to_usd(amount) if amount is not None else None,
            price_from_tokens=api_billed,
            long_context=False,
            location=f"{location} {model}",
        )


def name_facts(*maps: dict[str, str]):
    for names in maps:
        for name, email in names.items():
            yield IdentityFact(KEY_NAME_KIND, name, email)


async def ingest(
    sessions: async_sessionmaker[AsyncSession],
    *,
    api: VendorClient,
    since: date | None = None,
    until: date | None = None,
    clock: Clock = utcnow,
    slice_days: int = 31,
) -> ImportReport:
    """Pull Claude Code analytics: estimated spend and output context per person."""

    async def store(context: SliceContext, records: list[dict]) -> None:
        settings = context.settings
        maps = key_map(settings, "anthropic"), key_map(settings, SOURCE)
        await remember(context.session, name_facts(*maps))
        writer = await context.writer()
        rows = read_records(records, report=context.report)
        await writer.add_usage(rows.usage, replace=True)
        await writer.add_output(rows.output, replace=True)
        await writer.finish(now=context.now)

    pull = Pull(
        source=SOURCE,
        origin=f"Claude Code analytics at {api.base_url}",
        fetch=lambda window: fetch_days(api, window),
        store=store,
        slice_days=slice_days,
        clock=clock,
    )
    return await pull.run(sessions, since=since, until=until)
