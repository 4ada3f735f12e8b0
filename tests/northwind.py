"""Loading the Northwind fixtures into a test database, and reading their answers."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from functools import cache

from sqlalchemy import select

from tests.conftest import NORTHWIND
from usage.db import session_scope
from usage.directory import import_directory
from usage.ingest import ingest_litellm_file, ingest_spreadsheet
from usage.models import Person

MICROS = Decimal(1_000_000)
GATEWAY_AND_SHEET = ("api-gateway", "vertex-ai")


@cache
def expected() -> dict:
    return json.loads((NORTHWIND / "expected.json").read_text())


def usd(micros: int) -> Decimal:
    return Decimal(micros) / MICROS


def to_cents(amount: Decimal | str) -> Decimal:
    return Decimal(amount).quantize(Decimal("0.01"))


def use_northwind_prices(monkeypatch, tmp_path) -> None:
    """Price token-only rows with the fixture's own LiteLLM-format price map."""
    config = tmp_path / "aispend.toml"
    config.write_text(f'[pricing]\nprice_table = "{NORTHWIND / "prices.json"}"\n')
    monkeypatch.setenv("AISPEND_CONFIG", str(config))


async def load_directory(db) -> None:
    async with session_scope(db.sessions) as session:
        await import_directory(
            session,
            people_path=NORTHWIND / "people.csv",
            teams_path=NORTHWIND / "teams.csv",
        )


async def load_gateway_and_sheet(db):
    """The directory, the LiteLLM export and the spreadsheet; returns both reports."""
    await load_directory(db)
    gateway = await ingest_litellm_file(
        db.sessions, path=NORTHWIND / "litellm_spend_logs.csv"
    )
    sheet = await ingest_spreadsheet(
        db.sessions, path=NORTHWIND / "tool_costs.csv", tool=None
    )
    return gateway, sheet


# Thursday of ISO week 2026-W47, inside the fixtures' month.
TODAY = date(2026, 11, 19)


async def load_northwind(db) -> None:
    """The directory, the LiteLLM export and the spreadsheet of tool costs."""
    await load_gateway_and_sheet(db)


async def person(sessions, email: str) -> Person:
    async with sessions() as session:
        found = await session.execute(select(Person).where(Person.email == email))
        return found.scalar_one()


def expected_team_week(data: dict, week: str, members: list[str], tools) -> Decimal:
    """A team's total for a week from expected.json, counting only ``tools``."""
    people = data["weeks"][week]["people"]
    return sum(
        (
            Decimal(amount)
            for email in members
            for tool, amount in people.get(email, {}).get("by_tool", {}).items()
            if tool in tools
        ),
        Decimal(0),
    )
