"""Load the Northwind fixtures into a test database.

The directory, the LiteLLM export and the tool-cost spreadsheet are imported
through the real importers. Tools whose connectors are not part of this
project yet (claude-code, cursor, openai-api, anthropic-api) and the output
counts (merged PRs, Claude Code activity) are SEEDED from expected.json: one
labelled row per person, tool and day (each week's figure spread evenly over
its seven days), written through UsageWriter under the source
``seed-expected``. Seeded rows carry the source's cost, no tokens.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

from tests.conftest import NORTHWIND
from usage.directory import import_directory
from usage.ingest import ingest_litellm_file, ingest_spreadsheet
from usage.pricing import PriceTable, load_price_table, to_micros
from usage.settings import load_settings
from usage.store import ImportReport, OutputRow, UsageRow, UsageWriter

IMPORTED_TOOLS = ("api-gateway", "vertex-ai")
SEED_SOURCE = "seed-expected"
SEED_MODELS = {
    "claude-code": "claude-sonnet-4-5",
    "anthropic-api": "claude-sonnet-4-5",
    "openai-api": "gpt-5",
    "cursor": "gpt-5",
}


def expected() -> dict:
    return json.loads((NORTHWIND / "expected.json").read_text())


def week_days(week: str) -> list[date]:
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    return [monday + timedelta(days=n) for n in range(7)]


def _spread(amount: Decimal, parts: int) -> list[Decimal]:
    micros = to_micros(amount)
    share, rest = divmod(micros, parts)
    return [
        Decimal(share + (1 if n < rest else 0)) / Decimal(1_000_000)
        for n in range(parts)
    ]


def seeded_rows(figures: dict) -> tuple[list[UsageRow], list[OutputRow]]:
    usage, output = [], []
    for week, data in figures["weeks"].items():
        days = week_days(week)
        for email, person in data["people"].items():
            for tool, amount in person["by_tool"].items():
                if tool in IMPORTED_TOOLS:
                    continue
                for day, part in zip(days, _spread(Decimal(amount), 7), strict=True):
                    usage.append(
                        UsageRow(
                            source_key=f"{email}|{tool}|{day}",
                            identity=email,
                            tool=tool,
                            model=SEED_MODELS[tool],
                            day=day,
                            source_cost=part,
                            price_from_tokens=False,
                            location=f"seed {week} {email} {tool}",
                        )
                    )
            for metric, value in person["output"].items():
                output.append(
                    OutputRow(
                        source_key=f"{email}|{metric}|{week}",
                        identity=email,
                        day=days[0],
                        metric=metric,
                        value=value,
                    )
                )
    return usage, output


async def load_northwind(db, *, seed: bool = True) -> PriceTable:
    """Import the Northwind directory and files; seed the rest (see module doc)."""
    async with db.sessions() as session, session.begin():
        await import_directory(
            session,
            people_path=NORTHWIND / "people.csv",
            teams_path=NORTHWIND / "teams.csv",
        )
    await ingest_litellm_file(db.sessions, path=NORTHWIND / "litellm_spend_logs.csv")
    await ingest_spreadsheet(db.sessions, path=NORTHWIND / "tool_costs.csv", tool=None)
    prices = load_price_table(NORTHWIND / "prices.json")
    if seed:
        usage, output = seeded_rows(expected())
        async with db.sessions() as session, session.begin():
            settings = await load_settings(session)
            report = ImportReport(source=SEED_SOURCE, origin="expected.json")
            writer = await UsageWriter.open(
                session,
                source=SEED_SOURCE,
                settings=settings,
                prices=prices,
                report=report,
            )
            await writer.add_usage(usage)
            await writer.add_output(output)
            await writer.finish()
    return prices
