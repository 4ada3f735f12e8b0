"""Checks every outgoing message or view must pass: slack_sdk's Block Kit
validation, the block limits Slack enforces itself, and a text fallback."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
VIEW_BYTES = 250_000


def assert_valid_message(payload: dict) -> None:
    assert (payload.get("text") or "").strip(), "a message needs a text fallback"
    blocks = payload.get("blocks") or []
    assert len(blocks) <= MESSAGE_BLOCKS
    for block in blocks:
        Block.parse(block).validate_json()


def assert_valid_view(view: dict) -> None:
    blocks = view.get("blocks") or []
    assert 0 < len(blocks) <= VIEW_BLOCKS
    for block in blocks:
        Block.parse(block).validate_json()
    View(**view).validate_json()
    assert len(json.dumps(view).encode()) < VIEW_BYTES
