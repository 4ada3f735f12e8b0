import json

import pytest

from bot import settings_modal
from commands.home import OPEN_SETTINGS
from commands.settings_form import CALLBACK_ID
from tests.blockkit import assert_valid_view
from tests.bot.conftest import settle
from tests.bot.slack_requests import block_action, view_submission
from tests.northwind import person
from usage import prefs as prefs_module
from usage.prefs import load_prefs


def choice(value: str) -> dict:
    return {"value": {"type": "static_select", "selected_option": {"value": value}}}


def radio(value: str) -> dict:
    return {"value": {"type": "radio_buttons", "selected_option": {"value": value}}}


def clock(value: str | None) -> dict:
    return {"value": {"type": "timepicker", "selected_time": value}}


def form(**overrides) -> dict:
    values = {
        "nudges": radio("on"),
        "snooze": choice("0"),
        "quiet_start": clock(None),
        "quiet_end": clock(None),
    }
    return values | overrides


async def prefs_of(bot, email):
    found = await person(bot.db.sessions, email)
    async with bot.db.sessions() as session:
        return await load_prefs(session, found.id)


async def submit(bot, user_id, values):
    payload = view_submission(user_id, callback_id=CALLBACK_ID, values=values)
    status, body = await bot.interact(payload)
    await settle()
    return status, json.loads(body) if body else {}


async def test_settings_command_opens_the_modal_with_the_trigger_id(running_bot):
    response = await running_bot.slash("U0NW00003", "settings")
    [call] = await running_bot.wait_for("views.open")

    assert response.status == 200
    assert call.body["trigger_id"].startswith("1337.42.trigger")
    view = call.body["view"]
    assert_valid_view(view)
    assert view["callback_id"] == CALLBACK_ID
    blocks = {b["block_id"] for b in view["blocks"]}
    assert {
        "nudges",
        "snooze",
        "quiet_start",
        "digest_weekday",
        "digest_time",
    } <= blocks
    await settle()
    assert running_bot.fake.calls_to("response_url") == []


async def test_members_get_no_digest_fields(running_bot):
    await running_bot.slash("U0NW00004", "settings")
    [call] = await running_bot.wait_for("views.open")

    blocks = {b["block_id"] for b in call.body["view"]["blocks"]}
    assert "digest" not in blocks and "nudges" in blocks


async def test_home_button_opens_the_modal(running_bot):
    status, _ = await running_bot.interact(block_action("U0NW00004", OPEN_SETTINGS))
    [call] = await running_bot.wait_for("views.open")

    assert status == 200
    assert_valid_view(call.body["view"])


async def test_an_expired_trigger_falls_back_to_the_settings_text(running_bot):
    running_bot.fake.fail("views.open", "expired_trigger_id")

    await running_bot.slash("U0NW00004", "settings")
    [reply] = await running_bot.answers()

    assert "Your aispend settings" in json.dumps(reply["blocks"])


async def test_a_valid_submission_is_saved_and_home_republished(running_bot):
    values = form(
        nudges=radio("off"),
        quiet_start=clock("22:00"),
        quiet_end=clock("07:30"),
        digest=radio("on"),
        digest_weekday=choice("fri"),
        digest_time=clock("16:00"),
    )

    status, answer = await submit(running_bot, "U0NW00003", values)

    assert status == 200
    assert answer == {}
    saved = await prefs_of(running_bot, "maria.garcia@northwind.test")
    assert saved.nudges_opt_out is True
    assert (saved.quiet_start, saved.quiet_end) == ("22:00", "07:30")
    assert (saved.digest_weekday, saved.digest_time) == ("fri", "16:00")
    [publish] = running_bot.fake.calls_to("views.publish")
    assert "Fridays at 16:00" in json.dumps(publish.body["view"])


@pytest.mark.parametrize(
    ("overrides", "block", "words"),
    [
        ({"quiet_start": clock("22:00")}, "quiet_end", "both ends"),
        (
            {"quiet_start": clock("09:00"), "quiet_end": clock("09:00")},
            "quiet_end",
            "different",
        ),
        (
            {
                "quiet_start": clock("08:00"),
                "quiet_end": clock("18:00"),
                "digest": radio("on"),
                "digest_weekday": choice("mon"),
                "digest_time": clock("09:00"),
            },
            "digest_time",
            "inside your quiet hours",
        ),
        ({"snooze": choice("999")}, "snooze", "listed snooze"),
    ],
)
async def test_mistakes_are_shown_in_the_modal_and_nothing_is_saved(
    running_bot, overrides, block, words
):
    status, answer = await submit(running_bot, "U0NW00003", form(**overrides))

    assert status == 200
    assert answer["response_action"] == "errors"
    assert words in answer["errors"][block]
    assert (
        await prefs_of(running_bot, "maria.garcia@northwind.test")
        == prefs_module.Prefs()
    )
    assert running_bot.fake.calls_to("views.publish") == []


async def test_a_busy_database_is_reported_in_the_modal(
    sqlite_db, fake_slack, monkeypatch
):
    from tests.bot.conftest import start_bot, stop_bot

    bot, runner = await start_bot(sqlite_db, fake_slack)
    monkeypatch.setattr(prefs_module, "LOCK_WAIT_MS", 100)
    importer = await sqlite_db.engine.connect()
    await importer.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        errors = await settings_modal.save_form(
            bot.services, user_id="U0NW00004", values=form(nudges=radio("off"))
        )
    finally:
        await importer.rollback()
        await importer.close()
        await stop_bot(bot, runner)

    assert errors == {"nudges": settings_modal.NOT_SAVED}
    assert (await prefs_of(bot, "ana.ruiz@northwind.test")).nudges_opt_out is False
