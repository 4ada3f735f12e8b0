from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from digests.blocks import usd
from digests.weekly import build_digest, render_digest
from tests.blockkit import all_text, assert_valid_message
from tests.northwind import expected, load_directory, load_northwind
from usage.errors import UserError
from usage.models import Person, Team, UsageRecord
from usage.periods import iso_week
from usage.rollups import rebuild_all
from usage.settings import load_settings, store_setting

W48 = iso_week("2026-W48")
TODAY = date(2026, 11, 30)


def money(amount: str) -> str:
    return usd(int(Decimal(amount) * 1_000_000))


async def digest_for(db, email, *, period=W48):
    async with db.sessions() as session:
        settings = await load_settings(session)
        digest = await build_digest(
            session, manager_email=email, period=period, today=TODAY, settings=settings
        )
    return digest, render_digest(digest)


async def test_platform_digest_states_the_expected_week_figures_to_the_cent(db):
    await load_northwind(db)
    figures = expected()["weeks"]["2026-W48"]
    platform = [
        email
        for email in figures["people"]
        if email.split("@")[0]
        in ("maria.garcia", "ana.ruiz", "ben.kowalski", "chloe.martin", "ci-bot")
    ]
    by_tool: dict[str, Decimal] = defaultdict(Decimal)
    prs = 0
    for email in platform:
        for tool, amount in figures["people"][email]["by_tool"].items():
            by_tool[tool] += Decimal(amount)
        prs += figures["people"][email]["output"].get("prs_merged", 0)
    total = Decimal(figures["teams_direct_members"]["platform"])

    _digest, message = await digest_for(db, "maria.garcia@northwind.test")

    text = all_text(message)
    assert (
        f"*{money(figures['teams_direct_members']['platform'])}* spent by *platform*"
        in text
    )
    for tool, amount in by_tool.items():
        assert f"{tool}: {usd(int(amount * 1_000_000))}" in text
    assert f"{prs} merged PRs" in text
    assert f"*{usd(int(total * 1_000_000) // prs)} per merged PR*" in text
    last_week = expected()["weeks"]["2026-W47"]["teams_direct_members"]["platform"]
    assert f"vs last week ({money(last_week)})" in text
    assert "Budget Nov 1–30" in text
    assert_valid_message(message)


async def test_aggregate_digest_names_nobody(db):
    await load_northwind(db)

    _, message = await digest_for(db, "maria.garcia@northwind.test")

    text = all_text(message)
    for name in ("Ana Ruiz", "Ben Kowalski", "Chloe Martin", "CI Bot", "Maria Garcia"):
        assert name not in text


async def test_top_level_manager_gets_the_whole_tree_with_sub_teams(db):
    await load_northwind(db)
    figures = expected()["weeks"]["2026-W48"]

    _digest, message = await digest_for(db, "jordan.blake@northwind.test")

    text = all_text(message)
    assert (
        f"*{money(figures['org_total_usd'])}* spent by *engineering* and its sub-teams"
        in text
    )
    for team in ("mobile", "payments", "platform"):
        assert f"• {team}: {money(figures['teams_direct_members'][team])}" in text
    assert_valid_message(message)


async def test_individuals_are_listed_alphabetically_only_when_privacy_allows(db):
    await load_northwind(db)
    async with db.sessions() as session, session.begin():
        await store_setting(
            session, key="privacy.manager_view", value="individuals", actor="test"
        )

    _, message = await digest_for(db, "maria.garcia@northwind.test")

    text = all_text(message)
    names = ["Ana Ruiz", "Ben Kowalski", "Chloe Martin", "CI Bot", "Maria Garcia"]
    positions = [text.index(f"*{name}*") for name in names]
    assert positions == sorted(positions)
    ben = expected()["weeks"]["2026-W48"]["people"]["ben.kowalski@northwind.test"]
    assert f"*Ben Kowalski*\n{money(ben['total_usd'])}" in text
    assert_valid_message(message)


async def test_someone_who_manages_no_team_gets_a_clear_answer(db):
    await load_directory(db)

    with pytest.raises(UserError, match="manages no team"):
        await digest_for(db, "ben.kowalski@northwind.test")


async def test_a_huge_team_still_fits_one_message_and_escapes_its_name(db):
    long_name = "<!channel> " + "Platform & Reliability Engineering " * 5
    long_name = long_name[:160]
    async with db.sessions() as session, session.begin():
        team = Team(
            name=long_name,
            manager_email="boss@example.test",
            monthly_budget_micros=1_000_000_000,
        )
        session.add(team)
        await session.flush()
        boss = Person(email="boss@example.test", name="Boss", team_id=team.id)
        session.add(boss)
        for n in range(60):
            person = Person(
                email=f"p{n:02d}@example.test", name=f"Person {n:02d}", team_id=team.id
            )
            session.add(person)
            await session.flush()
            model = f"vendor-model-with-a-rather-long-descriptive-name-{n:02d}"
            session.add(
                UsageRecord(
                    source="csv",
                    source_key=f"k{n}",
                    tool=f"tool-{n % 12}",
                    person_id=person.id,
                    identity_kind="email",
                    identity=person.email,
                    day=date(2026, 11, 24),
                    model=model,
                    model_key=model,
                    requests=1,
                    cost_micros=1_000_000 * (n + 1),
                    cost_origin="source",
                )
            )
        await rebuild_all(session)
        await store_setting(
            session, key="privacy.manager_view", value="individuals", actor="test"
        )

    _digest, message = await digest_for(db, "boss@example.test")

    assert_valid_message(message)
    header = message.blocks[0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")
    text = all_text(message)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text
    assert "Person 59" in text
