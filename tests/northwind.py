"""Loading the Northwind fixtures into a test database, and reading their answers."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache

from tests.conftest import NORTHWIND
from usage.db import session_scope
from usage.directory import import_directory
from usage.ingest import ingest_litellm_file, ingest_spreadsheet

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
