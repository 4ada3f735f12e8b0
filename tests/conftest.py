"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL.

PostgreSQL tests use a schema of their own in the ``test`` database at
127.0.0.1:5432 (``AISPEND_TEST_PG`` overrides the URL). Where no server answers
they are skipped, except in CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.fakes.slack import FakeSlack, start_fake_slack
from usage.db import make_engine, make_sessionmaker
from usage.models import Base

FIXTURES = Path(__file__).parent / "fixtures"
NORTHWIND = FIXTURES / "northwind"
PG_URL = os.environ.get("AISPEND_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Tests never see the caller's settings, tokens or proxies."""
    for name in list(os.environ):
        if name.startswith(
            ("SLACK_", "AISPEND_CONFIG", "ANTHROPIC_", "OPENAI_", "CURSOR_", "GITHUB_")
        ):
            monkeypatch.delenv(name, raising=False)
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'default.db'}")


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    url: str
    backend: str


async def _sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'aispend.db'}"
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield Database(engine, make_sessionmaker(engine), url, "sqlite")
    await engine.dispose()


async def _postgres() -> AsyncIterator[Database]:
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is unreachable in CI")
        pytest.skip("no PostgreSQL reachable at 127.0.0.1:5432 (CI runs these)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield Database(engine, make_sessionmaker(engine), url, "postgresql")
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def db(request, tmp_path) -> AsyncIterator[Database]:
    """An empty, migrated database; each test runs on SQLite and on PostgreSQL."""
    source = _sqlite(tmp_path) if request.param == "sqlite" else _postgres()
    async for database in source:
        yield database


@pytest_asyncio.fixture
async def sqlite_db(tmp_path) -> AsyncIterator[Database]:
    """An empty SQLite database, for tests about SQLite's own behaviour."""
    async for database in _sqlite(tmp_path):
        yield database


@pytest.fixture
def fake_slack(monkeypatch) -> Iterator[FakeSlack]:
    """A local fake Slack Web API; ``SLACK_API_URL`` and ``SLACK_BOT_TOKEN`` point at it."""
    fake = start_fake_slack()
    monkeypatch.setenv("SLACK_API_URL", fake.base_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    try:
        yield fake
    finally:
        fake.stop()
