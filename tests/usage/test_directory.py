import pytest
from sqlalchemy import select

from tests.conftest import NORTHWIND
from tests.northwind import load_directory
from usage.db import session_scope
from usage.directory import TeamTree, import_directory, manager_chain, person_by_email
from usage.errors import ImportFileError
from usage.ingest import ingest_spreadsheet
from usage.models import Person, UsageRecord


async def test_northwind_directory_loads_teams_managers_roles_and_ids(db):
    await load_directory(db)

    async with db.sessions() as session:
        tree = await TeamTree.load(session)
        gus = await person_by_email(session, "GUS.Lindqvist@Northwind.test")
        ben = await person_by_email(session, "ben.kowalski@northwind.test")
        chain = [p.email for p in await manager_chain(session, ben)]
        bot = await person_by_email(session, "ci-bot@northwind.test")

    assert sorted(t.name for t in tree.teams.values()) == [
        "engineering",
        "mobile",
        "payments",
        "platform",
    ]
    assert [tree.teams[t].name for t in tree.ancestors(tree.by_name("mobile").id)] == [
        "engineering"
    ]
    assert sorted(
        tree.teams[t].name for t in tree.subtree(tree.by_name("engineering").id)
    ) == ["engineering", "mobile", "payments", "platform"]
    assert tree.by_name("platform").monthly_budget_micros == 8_000 * 1_000_000
    assert gus.slack_user_id == "W0NW00012"
    assert chain == ["maria.garcia@northwind.test", "jordan.blake@northwind.test"]
    assert bot.role == "service"


async def _import(db, tmp_path, people: str, teams: str | None = None):
    people_path = tmp_path / "people.csv"
    people_path.write_text(people)
    teams_path = None
    if teams is not None:
        teams_path = tmp_path / "teams.csv"
        teams_path.write_text(teams)
    async with session_scope(db.sessions) as session:
        return await import_directory(
            session, people_path=people_path, teams_path=teams_path
        )


async def test_emails_compare_without_case_and_duplicates_are_reported(db, tmp_path):
    report = await _import(
        db,
        tmp_path,
        "email,name,team\nA@Example.com,A,t\na@example.COM,A2,t\nb@example.com,B,t\n",
    )

    assert report.people == 2
    assert report.rejected == [
        ("line 3", "a@example.com appears twice (emails ignore case)")
    ]


async def test_bad_role_or_time_zone_rejects_the_row(db, tmp_path):
    report = await _import(
        db,
        tmp_path,
        "email,name,team,role,timezone\na@x.io,A,t,boss,UTC\nb@x.io,B,t,member,Mars/Base\nc@x.io,C,t,,\n",
    )

    assert report.people == 1
    assert [where for where, _ in report.rejected] == ["line 2", "line 3"]


async def test_a_team_tree_that_loops_is_refused(db, tmp_path):
    with pytest.raises(ImportFileError, match="loops"):
        await _import(db, tmp_path, "email,team\na@x.io,a\n", "team,parent\na,b\nb,a\n")


async def test_an_unknown_parent_team_is_refused(db, tmp_path):
    with pytest.raises(ImportFileError, match="unknown parent"):
        await _import(
            db, tmp_path, "email,team\na@x.io,a\n", "team,parent\na,nowhere\n"
        )


async def test_people_missing_from_a_new_file_become_inactive_not_deleted(db, tmp_path):
    await _import(db, tmp_path, "email,team\na@x.io,t\nb@x.io,t\n")

    report = await _import(db, tmp_path, "email,team\na@x.io,t\n")

    async with db.sessions() as session:
        b = (
            await session.execute(select(Person).where(Person.email == "b@x.io"))
        ).scalar_one()
    assert report.deactivated == ["b@x.io"]
    assert not b.active


async def test_usage_imported_before_its_person_is_attributed_once_they_arrive(db):
    await ingest_spreadsheet(db.sessions, path=NORTHWIND / "tool_costs.csv", tool=None)

    await load_directory(db)

    async with db.sessions() as session:
        orphans = (
            await session.execute(
                select(UsageRecord).where(UsageRecord.person_id.is_(None))
            )
        ).all()
    assert orphans == []


async def test_reimporting_the_directory_changes_no_total(db):
    from sqlalchemy import func

    from tests.northwind import load_gateway_and_sheet
    from usage.models import SpendRollup

    await load_gateway_and_sheet(db)

    async def totals():
        async with db.sessions() as session:
            rows = await session.execute(
                select(
                    SpendRollup.scope_kind, func.sum(SpendRollup.cost_micros)
                ).group_by(SpendRollup.scope_kind)
            )
            return dict(rows.all())

    before = await totals()
    await load_directory(db)

    assert await totals() == before
