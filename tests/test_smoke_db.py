from sqlalchemy import text


async def test_database_fixture_answers(db):
    async with db.sessions() as session:
        assert (await session.execute(text("SELECT 1"))).scalar() == 1
