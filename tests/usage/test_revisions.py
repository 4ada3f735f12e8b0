"""The team tree and the stored settings are kept between questions until the
tables they come from change, whoever changes them."""

import asyncio

import pytest
from sqlalchemy import text, update

from tests.northwind import load_directory
from usage.db import make_engine, make_sessionmaker, session_scope
from usage.directory import TeamTree
from usage.models import Person, Team
from usage.revisions import current
from usage.settings import file_settings, load_settings, store_setting


async def _tree(db) -> TeamTree:
    async with db.sessions() as session:
        return await TeamTree.load(session)


async def test_the_tree_is_kept_while_nothing_changes(db):
    await load_directory(db)

    first, second = await _tree(db), await _tree(db)

    assert second is first


async def test_a_change_made_through_another_engine_is_seen_at_once(db):
    await load_directory(db)
    before = await _tree(db)
    other = make_engine(db.url)  # another process, as far as the kept copy knows
    try:
        async with session_scope(make_sessionmaker(other)) as session:
            await session.execute(
                update(Team)
                .where(Team.name == "platform")
                .values(monthly_budget_micros=9_000_000_000)
            )
            await session.execute(
                update(Person)
                .where(Person.email == "ben.kowalski@northwind.test")
                .values(active=False)
            )
    finally:
        await other.dispose()

    after = await _tree(db)

    platform = after.by_name("platform")
    assert platform.monthly_budget_micros == 9_000_000_000
    assert after.size(platform.id) == before.size(platform.id) - 1
    assert before.by_name("platform").monthly_budget_micros == 8_000_000_000


async def test_a_rolled_back_change_leaves_no_stale_tree(db):
    await load_directory(db)
    await _tree(db)

    async with db.sessions() as session:
        await session.execute(
            update(Team).where(Team.name == "mobile").values(name="handsets")
        )
        inside = await TeamTree.load(session)  # sees its own change
        await session.rollback()
    after = await _tree(db)

    assert inside.by_name("handsets") is not None
    assert after.by_name("handsets") is None
    assert after.by_name("mobile") is not None


async def test_every_write_to_the_directory_sets_a_new_revision(db):
    await load_directory(db)
    seen = set()
    for budget in range(5):
        async with session_scope(db.sessions) as session:
            await session.execute(
                update(Team)
                .where(Team.name == "payments")
                .values(monthly_budget_micros=budget)
            )
        async with db.sessions() as session:
            seen.add(await current(session, "directory"))

    assert len(seen) == 5


async def test_stored_settings_are_seen_after_an_admin_change(db):
    async with db.sessions() as session:
        assert (await load_settings(session)).get("privacy.manager_view") == (
            "aggregate"
        )
    async with session_scope(db.sessions) as session:
        await store_setting(
            session, key="privacy.manager_view", value="individuals", actor="a@x.test"
        )

    async with db.sessions() as session:
        settings = await load_settings(session)

    assert settings.get("privacy.manager_view") == "individuals"


def test_a_changed_settings_file_is_read_again(tmp_path):
    path = tmp_path / "aispend.toml"
    path.write_text('[organisation]\nname = "Northwind"\n')
    env = {"AISPEND_CONFIG": str(path)}
    assert file_settings(env).get("organisation.name") == "Northwind"

    path.write_text('[organisation]\nname = "Northwind Traders"\n')

    assert file_settings(env).get("organisation.name") == "Northwind Traders"


async def test_writers_of_the_directory_queue_instead_of_deadlocking(db):
    """Two transactions update the same two teams in opposite orders. The
    revision row is the first lock each takes, so the second waits for the
    first to commit instead of both waiting on each other."""
    if db.backend != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    await load_directory(db)
    first_began = asyncio.Event()
    second_pid: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def first() -> None:
        async with session_scope(db.sessions) as session:
            await _set_timezone(session, "mobile", "Europe/Berlin")
            first_began.set()
            await _until_waiting(db, await second_pid)
            await _set_timezone(session, "payments", "Europe/Berlin")

    async def second() -> None:
        await first_began.wait()
        async with session_scope(db.sessions) as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar()
            second_pid.set_result(pid)
            await _set_timezone(session, "payments", "Asia/Tokyo")
            await _set_timezone(session, "mobile", "Asia/Tokyo")

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=30)

    tree = await _tree(db)
    assert tree.by_name("mobile").timezone == "Asia/Tokyo"
    assert tree.by_name("payments").timezone == "Asia/Tokyo"


async def _set_timezone(session, team: str, zone: str) -> None:
    await session.execute(update(Team).where(Team.name == team).values(timezone=zone))


async def _until_waiting(db, pid: int) -> None:
    """Return once backend ``pid`` waits for a lock another transaction holds."""
    async with db.engine.connect() as connection:
        while not (
            await connection.execute(
                text("SELECT cardinality(pg_blocking_pids(:pid)) > 0"), {"pid": pid}
            )
        ).scalar():
            await connection.rollback()
            await asyncio.sleep(0.01)
