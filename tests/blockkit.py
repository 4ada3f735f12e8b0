"""Checks every outgoing message against Block Kit and Slack's limits."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import Block


def assert_valid_message(message) -> None:
    payload = message.payload() if hasattr(message, "payload") else message
    blocks = payload["blocks"]
    assert payload["text"].strip(), "a message needs a text fallback"
    assert len(blocks) <= 50
    for raw in blocks:
        Block.parse(raw).validate_json()
        if raw["type"] == "header":
            assert len(raw["text"]["text"]) <= 150
        if raw["type"] == "section":
            if "text" in raw:
                assert len(raw["text"]["text"]) <= 3000
            assert len(raw.get("fields", [])) <= 10


def all_text(message) -> str:
    payload = message.payload() if hasattr(message, "payload") else message
    parts = [payload["text"]]
    for block in payload["blocks"]:
        if "text" in block and isinstance(block["text"], dict):
            parts.append(block["text"]["text"])
        for item in block.get("fields", []) + block.get("elements", []):
            text = item.get("text")
            parts.append(text["text"] if isinstance(text, dict) else text or "")
    return "\n".join(parts)


MAX_VIEW_BLOCKS = 100
MAX_VIEW_BYTES = 250_000


def assert_valid_view(view: dict) -> None:
    """A Home tab or modal: Block Kit, at most 100 blocks, under Slack's size limit."""
    from slack_sdk.models.views import View

    blocks = view.get("blocks") or []
    assert 0 < len(blocks) <= MAX_VIEW_BLOCKS
    for raw in blocks:
        Block.parse(raw).validate_json()
    View(**view).validate_json()
    assert len(json.dumps(view).encode()) < MAX_VIEW_BYTES
