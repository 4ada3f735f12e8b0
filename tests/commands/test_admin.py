import json

import pytest
from sqlalchemy import select

from commands import answer, to_plain_text
from tests.conftest import NORTHWIND
from tests.northwind import TODAY, load_directory, person
from usage.models import AuditEntry, SlackUser, Team
from usage.prefs import load_prefs
from usage.settings import load_settings

ADMIN = "hana.sato@northwind.test"


async def ask(db, email, text, **kwargs):
    asker = await person(db.sessions, email)
    async with db.sessions() as session:
        return await answer(session, asker=asker, text=text, today=TODAY, **kwargs)


async def current(db, key):
    async with db.sessions() as session:
        return (await load_settings(session)).get(key)


async def audit(db):
    async with db.sessions() as session:
        rows = await session.execute(select(AuditEntry).order_by(AuditEntry.id))
        return list(rows.scalars())


async def test_non_admins_are_refused_and_nothing_changes(db):
    await load_directory(db)

    reply = await ask(
        db, "maria.garcia@northwind.test", "admin set nudges.floor_usd 75"
    )

    assert "for aispend admins" in reply.text
    assert await current(db, "nudges.floor_usd") == 50
    assert await audit(db) == []


async def test_admin_sets_a_nudge_threshold_with_an_audit_entry(db):
    await load_directory(db)

    reply = await ask(db, ADMIN, "admin set nudges.floor_usd $75")

    assert "`nudges.floor_usd` is now 75 (was 50)" in to_plain_text(reply)
    assert await current(db, "nudges.floor_usd") == 75
    [entry] = await audit(db)
    assert entry.actor == ADMIN
    assert entry.detail == {"key": "nudges.floor_usd", "old": None, "new": 75}


async def test_a_slack_id_named_in_the_settings_file_makes_an_admin(
    db, tmp_path, monkeypatch
):
    config = tmp_path / "aispend.toml"
    config.write_text('[admins]\nslack_user_ids = ["U0NW00003"]\n')
    monkeypatch.setenv("AISPEND_CONFIG", str(config))
    await load_directory(db)

    reply = await ask(
        db,
        "maria.garcia@northwind.test",
        "admin privacy individuals",
        slack_user_id="U0NW00003",
    )

    assert "Saved" in reply.text
    assert await current(db, "privacy.manager_view") == "individuals"


async def test_a_member_of_the_admin_user_group_is_an_admin(db):
    await load_directory(db)

    reply = await ask(db, "ana.ruiz@northwind.test", "admin", in_admin_group=True)

    assert "aispend admin" in reply.text


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("admin set nudges.floor_usd lots", "takes a number"),
        ("admin set nudges.floor_usd -5", "at least 0"),
        ("admin set nudges.tool_cap_share 1.5", "at most 1"),
        ("admin set nudges.bogus 1", "not a setting admins can change"),
        ("admin set privacy.manager_view everyone", "aggregate or individuals"),
        ("admin set nudges.enabled maybe", "on or off"),
        ("admin budget nowhere 100", "no team called 'nowhere'"),
        ("admin budget platform cheap", "takes a number"),
        ("admin exclude not-an-email", "not an email address"),
        ("admin optout nobody@northwind.test nudges", "nobody in the directory"),
        ("admin optout ana.ruiz@northwind.test everything", "admin optout EMAIL"),
        ("admin set pricing.price_table missing.json", "cannot read price table"),
    ],
)
async def test_bad_admin_values_get_a_friendly_error_and_change_nothing(
    db, text, complaint
):
    await load_directory(db)

    reply = await ask(db, ADMIN, text)

    assert complaint in to_plain_text(reply)
    assert "went wrong" not in reply.text
    assert await audit(db) == []


async def test_admin_changes_a_team_budget(db):
    await load_directory(db)

    reply = await ask(db, ADMIN, "admin budget platform 9,000")

    assert "Team platform's monthly budget is now $9,000.00 (was $8,000.00)" in (
        to_plain_text(reply)
    )
    async with db.sessions() as session:
        team = (
            await session.execute(select(Team).where(Team.name == "platform"))
        ).scalar_one()
    assert team.monthly_budget_micros == 9_000_000_000
    [entry] = await audit(db)
    assert entry.action == "team.budget"
    assert entry.detail["new_micros"] == 9_000_000_000


async def test_exclude_and_include_keep_a_list_of_addresses(db):
    await load_directory(db)

    await ask(db, ADMIN, "admin exclude CI-Bot@northwind.test")
    await ask(db, ADMIN, "admin exclude dev.patel@northwind.test")
    await ask(db, ADMIN, "admin include ci-bot@northwind.test")

    assert await current(db, "excluded.emails") == ["dev.patel@northwind.test"]
    assert len(await audit(db)) == 3


async def test_admin_opts_a_person_out_on_their_request(db):
    await load_directory(db)

    reply = await ask(db, ADMIN, "admin optout <@U0NW00004|ana> nudges")

    assert (
        "Ana Ruiz (ana.ruiz@northwind.test) no longer gets spend nudges"
        in reply.blocks[0]["text"]["text"]
    )
    ana = await person(db.sessions, "ana.ruiz@northwind.test")
    async with db.sessions() as session:
        assert (await load_prefs(session, ana.id)).nudges_opt_out is True
    [entry] = await audit(db)
    assert entry.actor == ADMIN
    assert entry.detail["person"] == "ana.ruiz@northwind.test"


async def test_admin_points_the_price_table_at_a_litellm_file(db, tmp_path):
    await load_directory(db)
    table = tmp_path / "prices.json"
    table.write_text((NORTHWIND / "prices.json").read_text())
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({}))

    refused = await ask(db, ADMIN, f"admin set pricing.price_table {empty}")
    saved = await ask(db, ADMIN, f"admin set pricing.price_table {table}")

    assert "the price table was not changed" in refused.text
    assert "Saved" in saved.text
    assert await current(db, "pricing.price_table") == str(table)


async def test_audit_lists_changes_with_who_and_when(db):
    await load_directory(db)
    await ask(db, ADMIN, "admin set nudges.multiple_of_usual 3")
    await ask(db, ADMIN, "admin set nudges.multiple_of_usual 2")
    await ask(db, ADMIN, "admin privacy individuals")

    reply = to_plain_text(await ask(db, ADMIN, "admin audit"))

    assert (
        "hana.sato@northwind.test · privacy.manager_view: the default → individuals"
        in reply
    )
    assert "nudges.multiple_of_usual: the default → 3" in reply
    assert "nudges.multiple_of_usual: 3 → 2" in reply
    assert reply.index("privacy.manager_view") < reply.index("multiple_of_usual")


async def test_admin_overview_shows_people_slack_cannot_reach(db):
    await load_directory(db)
    async with db.sessions() as session:
        session.add_all(
            [
                SlackUser(email="gone@northwind.test", status="not_found"),
                SlackUser(
                    email="ci-bot@northwind.test", slack_user_id="B1", status="bot"
                ),
                SlackUser(
                    email="ana.ruiz@northwind.test",
                    slack_user_id="U0NW00004",
                    status="ok",
                ),
            ]
        )
        await session.commit()

    reply = to_plain_text(await ask(db, ADMIN, "admin"))

    assert "gone@northwind.test: no Slack account for this email" in reply
    assert "ci-bot@northwind.test: the Slack account is a bot" in reply
    assert "ana.ruiz@northwind.test:" not in reply.split("Cannot receive")[1]
    assert "`nudges.floor_usd` = 50" in reply
    assert "platform: $8,000.00" in reply


async def test_help_shows_admin_commands_to_admins_only(db):
    await load_directory(db)

    for_admin = to_plain_text(await ask(db, ADMIN, "help"))
    for_member = to_plain_text(await ask(db, "ana.ruiz@northwind.test", "help"))

    assert "/aispend admin" in for_admin
    assert "/aispend admin" not in for_member
