"""Loading the Northwind fixtures into a test database, and reading their answers."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from sqlalchemy import select

from tests.conftest import NORTHWIND
from usage.db import session_scope
from usage.directory import import_directory
from usage.ingest import ingest_litellm_file, ingest_spreadsheet
from usage.models import Person
from usage.pricing import PriceTable, load_price_table

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


@contextmanager
def northwind_prices():
    """Point the settings at the fixture's price map while the pulls run."""
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "aispend.toml"
        config.write_text(
            f'[pricing]\nprice_table = "{(NORTHWIND / "prices.json").as_posix()}"\n'
        )
        before = os.environ.get("AISPEND_CONFIG")
        os.environ["AISPEND_CONFIG"] = str(config)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("AISPEND_CONFIG", None)
            else:
                os.environ["AISPEND_CONFIG"] = before


async def pull_connectors(sessions) -> None:
    """Every vendor connector over the Northwind month, from in-process fakes."""
    from tests.sources.fakes import (
        KEY,
        FakeAnthropic,
        FakeCursor,
        FakeGitHub,
        FakeOpenAI,
        Sleeps,
        fixed_clock,
    )
    from usage.sources import anthropic, claude_code, cursor, github, openai

    window = {
        "since": date(2026, 11, 2),
        "until": date(2026, 11, 29),
        "clock": fixed_clock(),
    }
    options = {"api_key": KEY, "base_url": "http://vendor.test", "sleep": Sleeps()}

    def api(module, fake):
        return module.client(transport=fake.transport(), **options)

    async with api(anthropic, FakeAnthropic()) as client:
        await anthropic.ingest_usage(sessions, api=client, **window)
    async with api(anthropic, FakeAnthropic()) as client:
        await claude_code.ingest(sessions, api=client, **window)
    async with api(openai, FakeOpenAI()) as client:
        await openai.ingest_usage(sessions, api=client, **window)
    async with api(cursor, FakeCursor()) as client:
        await cursor.ingest(sessions, api=client, page_size=100, **window)
    options["base_url"] = "http://github.test"
    async with api(github, FakeGitHub()) as client:
        await github.ingest(sessions, api=client, org="northwind", **window)


async def load_northwind(db) -> PriceTable:
    """The whole Northwind month: the directory, the LiteLLM export and the
    spreadsheet through their importers, and every vendor connector through
    an in-process fake of its API. Returns the fixture's price table."""
    with northwind_prices():
        await load_gateway_and_sheet(db)
        await pull_connectors(db.sessions)
    return load_price_table(NORTHWIND / "prices.json")


# Thursday of ISO week 2026-W47, inside the fixtures' month.
TODAY = date(2026, 11, 19)


async def person(sessions, email: str) -> Person:
    async with sessions() as session:
        found = await session.execute(select(Person).where(Person.email == email))
        return found.scalar_one()


def expected_team_week(
    data: dict, week: str, members: list[str], tools=None
) -> Decimal:
    """A team's total for a week from expected.json (only ``tools``, when given)."""
    people = data["weeks"][week]["people"]
    return sum(
        (
            Decimal(amount)
            for email in members
            for tool, amount in people.get(email, {}).get("by_tool", {}).items()
            if tools is None or tool in tools
        ),
        Decimal(0),
    )
