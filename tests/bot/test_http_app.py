import json
from decimal import Decimal

from sqlalchemy import update

from commands.message import usd
from tests.blockkit import assert_valid_message
from tests.bot.conftest import start_bot, stop_bot
from tests.bot.slack_requests import FORM, block_action, signed_headers, slash_body
from tests.conftest import NORTHWIND
from tests.northwind import expected_team_week
from usage.models import Team

PLATFORM = [
    "maria.garcia@northwind.test",
    "ana.ruiz@northwind.test",
    "ben.kowalski@northwind.test",
    "chloe.martin@northwind.test",
    "ci-bot@northwind.test",
]


async def test_signed_team_command_from_a_manager_gets_the_team_figures(running_bot):
    expected = json.loads((NORTHWIND / "expected.json").read_text())
    total = expected_team_week(expected, "2026-W47", PLATFORM)

    response = await running_bot.slash("U0NW00003", "team")
    [reply] = await running_bot.answers()

    assert response.status == 200
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Team platform for week 2026-W47")
    assert usd(int(total * Decimal(1_000_000))) in reply["text"]
    assert usd(int(total * Decimal(1_000_000))) in json.dumps(reply["blocks"])


async def test_unsigned_request_is_refused_with_401(running_bot):
    body = slash_body(
        user_id="U0NW00003", text="team", response_url=running_bot.response_url
    )

    response = await running_bot.post(body, {"Content-Type": FORM})

    assert response.status == 401
    assert running_bot.fake.calls == []


async def test_request_older_than_five_minutes_is_refused_with_401(running_bot):
    response = await running_bot.slash("U0NW00003", "team", age=6 * 60)

    assert response.status == 401
    assert running_bot.fake.calls == []


async def test_tampered_body_is_refused_with_401(running_bot):
    body = slash_body(
        user_id="U0NW00003", text="team", response_url=running_bot.response_url
    )
    headers = signed_headers(body, content_type=FORM)

    response = await running_bot.post(body.replace("U0NW00003", "U0NW00002"), headers)

    assert response.status == 401


async def test_request_signed_with_another_secret_is_refused_with_401(running_bot):
    response = await running_bot.slash("U0NW00003", "me", secret="not-the-secret")

    assert response.status == 401


async def test_every_answer_through_slack_is_valid_block_kit(running_bot):
    texts = [
        "me",
        "team",
        "org",
        "budget",
        "tools",
        "models",
        "sources",
        "help",
        "nonsense",
    ]
    for text in texts:
        await running_bot.slash("U0NW00003", text)

    replies = await running_bot.answers(len(texts))

    for reply in replies:
        assert_valid_message(reply)


async def test_a_team_named_like_a_broadcast_pings_nobody(running_bot):
    async with running_bot.db.sessions() as session, session.begin():
        await session.execute(
            update(Team).where(Team.name == "platform").values(name="<!channel>")
        )

    await running_bot.slash("U0NW00003", "team")
    [reply] = await running_bot.answers()

    mrkdwn = json.dumps([b for b in reply["blocks"] if b["type"] != "header"])
    assert "<!channel>" not in mrkdwn and "<!channel>" not in reply["text"]
    assert "&lt;!channel&gt;" in reply["text"]
    # a header is plain text, which Slack never reads as a mention
    assert reply["blocks"][0]["text"]["type"] == "plain_text"


async def test_a_member_of_the_admin_user_group_may_use_admin_commands(
    db, fake_slack, tmp_path, monkeypatch
):
    config = tmp_path / "aispend.toml"
    config.write_text('[admins]\nusergroup = "S0ADMINS"\n')
    monkeypatch.setenv("AISPEND_CONFIG", str(config))
    fake_slack.add_usergroup("S0ADMINS", ["U0NW00004"])
    bot, runner = await start_bot(db, fake_slack)
    try:
        await bot.slash("U0NW00004", "admin privacy individuals")
        await bot.slash("U0NW00005", "admin privacy aggregate")
        await bot.slash("U0NW00004", "admin")
        allowed, refused, shown = await bot.answers(3)
    finally:
        await stop_bot(bot, runner)

    assert allowed["text"].startswith("Saved")
    assert "for aispend admins" in refused["text"]
    assert "individuals" in json.dumps(shown["blocks"])
    assert len(fake_slack.calls_to("usergroups.users.list")) == 1


async def test_optout_through_slack_is_saved_and_home_republished(running_bot):
    await running_bot.slash("U0NW00004", "optout nudges")
    [reply] = await running_bot.answers()
    [publish] = await running_bot.wait_for("views.publish")

    assert "no more spend nudges" in reply["text"]
    assert "off (you opted out)" in json.dumps(publish.body["view"])


async def test_nudge_buttons_are_wired_into_the_app(running_bot):
    payload = block_action("U0NW00004", "aispend_nudge_snooze")
    payload["actions"][0]["value"] = "999999"
    payload["response_url"] = running_bot.response_url

    status, _ = await running_bot.interact(payload)
    [reply] = await running_bot.answers()

    assert status == 200
    assert "no longer on record" in reply["text"]
