"""Engine and session setup for the embedded SQLite default and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from usage.errors import ConfigError

DEFAULT_URL = "sqlite:///aispend.db"
SQLITE_BUSY_TIMEOUT_MS = 5000


def database_url(env: dict[str, str] | None = None) -> str:
    """Return the configured plain database URL (``DATABASE_URL`` or the default)."""
    env = os.environ if env is None else env
    return env.get("DATABASE_URL") or DEFAULT_URL


def async_url(url: str) -> str:
    """Turn a plain SQLAlchemy URL into one with the async driver chosen here."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"DATABASE_URL {url!r} is not a database URL") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(False)
    raise ConfigError(
        f"DATABASE_URL uses {backend!r}; aispend runs on sqlite:// or postgresql://"
    )


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str | None = None, **kwargs) -> AsyncEngine:
    """Create an async engine for a plain URL, with WAL and a busy timeout on SQLite."""
    url = async_url(url or database_url())
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {}).setdefault(
            "timeout", SQLITE_BUSY_TIMEOUT_MS / 1000
        )
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Yield a session in a transaction that commits on success, rolls back on error."""
    async with sessions() as session, session.begin():
        yield session
