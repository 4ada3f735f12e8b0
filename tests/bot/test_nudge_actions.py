"""The nudge buttons, pressed through a Bolt app against the fake Slack."""

import json
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot import nudge_actions
from digests import nudges
from tests.fakes.slack import VALID_TOKEN
from tests.northwind import load_northwind
from usage import ledger
from usage.directory import person_by_email
from usage.models import PersonPrefs
from usage.periods import iso_week
from usage.settings import load_settings

SECRET = "test-signing-secret"
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def press(
    action: str, value: str, user: str, channel: str, ts: str
) -> AsyncBoltRequest:
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": "T0TEST001"},
        "api_app_id": "A1",
        "channel": {"id": channel},
        "message": {"ts": ts},
        "container": {"type": "message"},
        "actions": [
            {"action_id": f"aispend_nudge_{action}", "value": value, "type": "button"}
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    headers = {
        "content-type": ["application/x-www-form-urlencoded"],
        "x-slack-signature": [signature],
        "x-slack-request-timestamp": [stamp],
    }
    return AsyncBoltRequest(body=body, headers=headers)


async def test_stop_button_opts_out_and_updates_the_note(db, fake_slack):
    prices = await load_northwind(db)
    async with db.sessions() as session, session.begin():
        settings = await load_settings(session)
        scan = await nudges.find_nudges(
            session,
            period=iso_week("2026-W48"),
            today=NOW.date(),
            settings=settings,
            prices=prices,
            now=NOW,
        )
        await nudges.plan_nudges(session, scan, now=NOW)
        entry = await ledger.entry_for(
            session,
            kind="nudge",
            recipient="ben.kowalski@northwind.test",
            period="2026-W48",
        )
    fake_slack.add_user("U0NW00005", "ben.kowalski@northwind.test")
    web = AsyncWebClient(token=VALID_TOKEN, base_url=fake_slack.base_url)
    posted = await web.chat_postMessage(channel="U0NW00005", **entry.detail["message"])
    app = AsyncApp(
        signing_secret=SECRET,
        client=web,
        request_verification_enabled=True,
        process_before_response=True,
    )
    nudge_actions.register(app, sessions=db.sessions, clock=lambda: NOW)

    response = await app.async_dispatch(
        press("stop", str(entry.id), "U0NW00005", posted["channel"], posted["ts"])
    )

    assert response.status == 200
    [update] = fake_slack.calls_to("chat.update")
    assert "will not get these notes" in json.dumps(update.body["blocks"])
    assert update.body["ts"] == posted["ts"]
    async with db.sessions() as session:
        ben = await person_by_email(session, "ben.kowalski@northwind.test")
        prefs = await session.get(PersonPrefs, ben.id)
        stored = await ledger.entry_for(
            session,
            kind="nudge",
            recipient="ben.kowalski@northwind.test",
            period="2026-W48",
        )
    assert prefs.nudges_opt_out is True
    assert stored.response == "stop"
