"""The Alembic migrations build exactly the schema the models describe."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from tests.conftest import PG_URL, _postgres_reachable
from usage.db import make_engine
from usage.migrate import upgrade_engine
from usage.models import Base


def _differences(connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_migrations_match_the_models_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    await upgrade_engine(engine)

    async with engine.connect() as connection:
        diff = await connection.run_sync(_differences)
    await engine.dispose()

    assert diff == []


async def test_migrations_match_the_models_on_postgresql():
    if not _postgres_reachable():
        pytest.skip("no PostgreSQL reachable at 127.0.0.1:5432")
    schema = f"m_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{PG_URL}?options=-csearch_path%3D{schema}")
    try:
        await upgrade_engine(engine)
        await upgrade_engine(engine)  # a second upgrade is a no-op
        async with engine.connect() as connection:
            diff = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()

    assert diff == []
