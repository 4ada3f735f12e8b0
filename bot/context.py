"""Process-wide wiring shared by CLI commands and the bot: engine and sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from usage.db import database_url, make_engine, make_sessionmaker
from usage.errors import UserError, describe


@asynccontextmanager
async def open_database(
    url: str | None = None,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the configured database; the engine is closed afterwards."""
    engine = make_engine(url or database_url())
    try:
        yield make_sessionmaker(engine)
    except OperationalError as exc:
        raise UserError(_database_problem(exc)) from exc
    finally:
        await engine.dispose()


def _database_problem(exc: OperationalError) -> str:
    text = str(exc.orig) if exc.orig else str(exc)
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return "the database has no aispend tables yet; run `aispend db upgrade` first"
    if "locked" in text:
        return "the database is busy (another import is writing); try again in a moment"
    return f"database error: {describe(exc)}"
