"""Load the Northwind fixtures (directory, gateway logs, a spreadsheet) into a test database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from tests.conftest import NORTHWIND
from usage.db import session_scope
from usage.directory import import_directory
from usage.ingest import begin_write, ingest_litellm_file, ingest_spreadsheet
from usage.models import Person

# Thursday of ISO week 2026-W47, inside the fixtures' month.
TODAY = date(2026, 11, 19)


async def load_directory(sessions) -> None:
    async with session_scope(sessions) as session:
        await begin_write(session)
        await import_directory(
            session,
            people_path=NORTHWIND / "people.csv",
            teams_path=NORTHWIND / "teams.csv",
        )


async def load_northwind(sessions) -> None:
    """The directory, the LiteLLM export and the spreadsheet of tool costs."""
    await load_directory(sessions)
    await ingest_litellm_file(sessions, path=NORTHWIND / "litellm_spend_logs.csv")
    await ingest_spreadsheet(
        sessions, path=NORTHWIND / "tool_costs.csv", tool="vertex-ai"
    )


async def person(sessions, email: str) -> Person:
    async with sessions() as session:
        found = await session.execute(select(Person).where(Person.email == email))
        return found.scalar_one()


def expected_team_week(expected: dict, week: str, members: list[str], tools) -> Decimal:
    """A team's total for a week from expected.json, counting only ``tools``."""
    people = expected["weeks"][week]["people"]
    return sum(
        (
            Decimal(amount)
            for email in members
            for tool, amount in people.get(email, {}).get("by_tool", {}).items()
            if tool in tools
        ),
        Decimal(0),
    )
