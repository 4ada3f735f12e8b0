"""/aispend answers as the people of Northwind would see them."""

from datetime import date
from decimal import Decimal

import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import select

from commands import answer, to_plain_text
from commands.grammar import REGISTRY
from commands.message import MAX_BLOCKS
from tests.northwind import (
    GATEWAY_AND_SHEET,
    expected,
    load_gateway_and_sheet,
    to_cents,
    use_northwind_prices,
)
from usage.db import session_scope
from usage.directory import person_by_email
from usage.models import Team
from usage.settings import store_setting

TODAY = date(2026, 12, 4)


@pytest.fixture(autouse=True)
def northwind_prices(monkeypatch, tmp_path):
    use_northwind_prices(monkeypatch, tmp_path)


async def ask(db, email: str, text: str):
    async with db.sessions() as session:
        asker = await person_by_email(session, email)
        return await answer(session, asker=asker, text=text, today=TODAY)


def assert_valid(message) -> None:
    assert message.text.strip()
    assert len(message.blocks) <= MAX_BLOCKS
    for block in message.blocks:
        Block.parse(block).validate_json()


MARIA = "maria.garcia@northwind.test"
BEN = "ben.kowalski@northwind.test"
HANA = "hana.sato@northwind.test"


async def test_manager_team_answer_for_w48_states_the_platform_total(db):
    await load_gateway_and_sheet(db)

    message = await ask(db, MARIA, "team 2026-W48")

    text = to_plain_text(message)
    assert_valid(message)
    assert "Team platform · week 2026-W48 (Nov 23–29, 2026)" in text
    assert "$1,008.04" in text  # api-gateway + vertex-ai for platform's people in W48
    assert "vertex-ai: $993.40" in text
    assert "Days in UTC" in text
    assert "data through Sun Nov 29, 2026" in text


async def test_team_answers_name_no_person(db):
    await load_gateway_and_sheet(db)

    text = to_plain_text(await ask(db, MARIA, "team engineering last month"))

    for name in (
        "Maria",
        "Ana",
        "Ben",
        "Chloe",
        "Jordan",
        "Hana",
        "Sam",
        "Dev",
        "Erin",
    ):
        assert name not in text


async def test_my_answer_shows_unpriced_usage_plainly(db):
    await load_gateway_and_sheet(db)

    text = to_plain_text(await ask(db, MARIA, "me 2026-W45"))

    assert "1 request, 52k tokens unpriced (claude-sonnet-9-20990101)" in text


async def test_person_figures_are_refused_by_default_and_say_who_can_see_them(db):
    await load_gateway_and_sheet(db)

    text = to_plain_text(await ask(db, MARIA, "<@U0NW00005|ben> 2026-W48"))

    assert "You can't see Ben Kowalski's own figures" in text
    assert "Maria Garcia, Jordan Blake" in text
    assert "$" not in text


async def test_manager_sees_a_report_when_individual_views_are_on(db):
    await load_gateway_and_sheet(db)
    async with session_scope(db.sessions) as session:
        await store_setting(
            session, key="privacy.manager_view", value="individuals", actor=HANA
        )

    by_manager = to_plain_text(await ask(db, MARIA, "<@U0NW00005|ben> 2026-W48"))
    by_peer = to_plain_text(
        await ask(db, "ana.ruiz@northwind.test", "<@U0NW00005> 2026-W48")
    )

    assert "Ben Kowalski's AI spend · week 2026-W48" in by_manager
    assert "You can't see" in by_peer


async def test_w_prefixed_slack_ids_resolve_like_any_other(db):
    await load_gateway_and_sheet(db)

    text = to_plain_text(
        await ask(db, "gus.lindqvist@northwind.test", "<@W0NW00012> 2026-W48")
    )

    assert "Your AI spend · week 2026-W48" in text


async def test_members_cannot_see_a_sibling_team(db):
    await load_gateway_and_sheet(db)

    own = to_plain_text(await ask(db, BEN, "team platform 2026-W48"))
    sibling = to_plain_text(await ask(db, BEN, "team payments 2026-W48"))
    parent = to_plain_text(await ask(db, BEN, "team engineering 2026-W48"))
    admin = to_plain_text(await ask(db, HANA, "team payments 2026-W48"))

    assert "Team platform" in own
    assert "You can't see the figures of team payments" in sibling
    assert "Sam Okafor, Jordan Blake" in sibling
    assert "Team engineering" in parent
    assert "Team payments · week" in admin


async def test_org_answer_for_everyone_and_unattributed_only_for_admins(db, tmp_path):
    await load_gateway_and_sheet(db)
    sheet = tmp_path / "stray.csv"
    sheet.write_text(
        "date,email,tool,cost\n2026-11-24,stranger@elsewhere.test,x,12.00\n"
    )
    from usage.ingest import ingest_spreadsheet

    await ingest_spreadsheet(db.sessions, path=sheet, tool=None)

    member = to_plain_text(await ask(db, BEN, "org 2026-W48"))
    admin = to_plain_text(await ask(db, HANA, "org 2026-W48"))

    people = expected()["weeks"]["2026-W48"]["people"].values()
    total = sum(
        Decimal(p["by_tool"].get(t, "0")) for p in people for t in GATEWAY_AND_SHEET
    )
    assert f"${to_cents(total + 12):,}" in member
    assert "unattributed" not in member
    assert "$12.00 of this could not be matched" in admin


async def test_budget_names_its_month_and_the_day_it_was_crossed(db):
    await load_gateway_and_sheet(db)

    text = to_plain_text(await ask(db, MARIA, "budget november"))

    assert "Team platform's budget for November (Nov 1–30)" in text
    assert "of $8,000.00" in text
    assert "was crossed on" in text
    assert "unpriced" in text


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [
        ("tem platform", "/aispend team platform"),
        ("bugdet", "/aispend budget"),
        ("orgg", "/aispend org"),
    ],
)
async def test_unknown_text_gets_a_suggestion(db, typed, suggestion):
    await load_gateway_and_sheet(db)

    text = to_plain_text(await ask(db, MARIA, typed))

    assert "I didn't catch" in text
    assert suggestion in text
    assert "/aispend help" in text


async def test_impossible_periods_are_explained(db):
    await load_gateway_and_sheet(db)

    text = to_plain_text(await ask(db, MARIA, "me 2026-W60"))

    assert "2026 has no week 60" in text


async def test_a_stranger_is_told_how_to_get_in(db):
    async with db.sessions() as session:
        message = await answer(session, asker=None, text="me", today=TODAY)

    assert "not in aispend's directory" in to_plain_text(message)


async def test_help_lists_every_subcommand(db):
    await load_gateway_and_sheet(db)

    text = to_plain_text(await ask(db, MARIA, "help"))

    for command in REGISTRY.values():
        if not command.admin_only:
            assert f"/aispend {command.usage}" in text


async def test_a_team_named_like_a_mention_pings_nobody(db):
    await load_gateway_and_sheet(db)
    async with session_scope(db.sessions) as session:
        team = Team(name="<!channel> & co", parent_id=None)
        session.add(team)
    async with session_scope(db.sessions) as session:
        hana = await person_by_email(session, HANA)
        hana.team_id = (await session.get(Team, team.id)).id

    message = await ask(db, HANA, "team")

    mrkdwn = [message.text, *_mrkdwn_texts(message.blocks)]
    assert not any("<!channel>" in text for text in mrkdwn)
    assert any("&lt;!channel&gt; &amp; co" in text for text in mrkdwn)
    assert_valid(message)


def _mrkdwn_texts(node) -> list[str]:
    """Every mrkdwn string in a block tree (plain_text never pings anyone)."""
    if isinstance(node, list):
        return [text for item in node for text in _mrkdwn_texts(item)]
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            return [node["text"]]
        return [text for value in node.values() for text in _mrkdwn_texts(value)]
    return []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "me",
        "me last week",
        "team",
        "team platform this month",
        "org 30 days",
        "budget",
        "tools",
        "models org",
        "tools team platform",
        "sources",
        "help",
        "2026-11",
        "last month",
        "me 2026-11-02..2026-11-08",
    ],
)
async def test_every_answer_is_valid_block_kit(db, text):
    await load_gateway_and_sheet(db)

    assert_valid(await ask(db, MARIA, text))


async def test_a_parent_team_shows_only_the_sub_teams_the_reader_may_see(db):
    await load_gateway_and_sheet(db)

    text = to_plain_text(await ask(db, BEN, "team engineering 2026-W48"))

    assert "• platform: $" in text
    assert "payments" not in text and "mobile" not in text
    assert "• other teams and members: $" in text


async def test_a_manager_sees_sub_teams_but_not_a_two_person_remainder(db):
    await load_gateway_and_sheet(db)

    aggregate = to_plain_text(
        await ask(db, "jordan.blake@northwind.test", "team 2026-W48")
    )
    async with session_scope(db.sessions) as session:
        await store_setting(
            session, key="privacy.manager_view", value="individuals", actor=HANA
        )
    individuals = to_plain_text(
        await ask(db, "jordan.blake@northwind.test", "team 2026-W48")
    )

    for name in ("mobile", "payments", "platform"):
        assert f"• {name}: $" in aggregate
    assert "direct members of engineering" not in aggregate  # Jordan and Hana only
    assert "direct members of engineering" in individuals


async def test_a_team_too_small_to_hide_anyone_is_refused_and_left_out(db, tmp_path):
    await load_gateway_and_sheet(db)
    async with session_scope(db.sessions) as session:
        tree_parent = (
            await session.execute(select(Team).where(Team.name == "platform"))
        ).scalar_one()
        solo = Team(name="solo", parent_id=tree_parent.id)
        session.add(solo)
        await session.flush()
        ana = await person_by_email(session, "ana.ruiz@northwind.test")
        ana.team_id = solo.id
    from usage.rollups import rebuild_teams

    async with session_scope(db.sessions) as session:
        await rebuild_teams(session)

    platform = to_plain_text(await ask(db, BEN, "team platform 2026-W48"))
    by_ben = to_plain_text(await ask(db, BEN, "team solo 2026-W48"))
    by_ana = to_plain_text(await ask(db, "ana.ruiz@northwind.test", "team 2026-W48"))

    assert "solo" not in platform.split("Sub-teams")[-1].split("What it went with")[0]
    assert "fewer than 3 people" in by_ben
    assert "fewer than 3 people" in by_ana
