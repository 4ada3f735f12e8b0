"""Requests built and signed exactly as Slack sends them."""

from __future__ import annotations

import itertools
import json
import time
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack import TEAM_ID

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_triggers = itertools.count(1)


def signed_headers(
    body: str, *, content_type: str, secret: str = SIGNING_SECRET, age: int = 0
) -> dict[str, str]:
    """Headers Slack adds: a timestamp ``age`` seconds old and its v0 signature."""
    timestamp = str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(
        timestamp=timestamp, body=body
    )
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def slash_body(*, user_id: str, text: str, response_url: str) -> str:
    """A ``/aispend`` slash command, form-encoded."""
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "northwind",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": "/aispend",
            "text": text,
            "api_app_id": "A0AISPEND",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"1337.42.trigger{next(_triggers)}",
        }
    )


def event_body(event: dict, *, event_id: str, retry: int = 0) -> str:
    """An Events API callback, JSON."""
    return json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0AISPEND",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1790000000 + retry,
            "authorizations": [
                {"team_id": TEAM_ID, "user_id": "UBOT0001", "is_bot": True}
            ],
        }
    )


def home_opened(user_id: str) -> dict:
    return {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D" + user_id[1:],
        "tab": "home",
        "event_ts": "1790000000.000100",
    }


def interaction_body(payload: dict) -> str:
    """Interactivity (block actions, view submissions): ``payload=<url-encoded JSON>``."""
    return urlencode({"payload": json.dumps(payload)})


def block_action(user_id: str, action_id: str) -> dict:
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "northwind"},
        "user": {"id": user_id, "team_id": TEAM_ID},
        "api_app_id": "A0AISPEND",
        "trigger_id": f"1337.42.trigger{next(_triggers)}",
        "container": {"type": "view", "view_id": "V0HOME"},
        "view": {"id": "V0HOME", "type": "home", "callback_id": "aispend_home"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "action_ts": "1790000000.000200",
            }
        ],
    }


def view_submission(user_id: str, *, callback_id: str, values: dict) -> dict:
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "northwind"},
        "user": {"id": user_id, "team_id": TEAM_ID},
        "api_app_id": "A0AISPEND",
        "trigger_id": f"1337.42.trigger{next(_triggers)}",
        "view": {
            "id": "V0MODAL",
            "type": "modal",
            "callback_id": callback_id,
            "state": {"values": values},
            "private_metadata": "",
        },
    }
