import json
from decimal import Decimal

from commands.message import usd
from tests.bot.slack_requests import FORM, signed_headers, slash_body
from tests.conftest import NORTHWIND
from tests.northwind import expected_team_week

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
