"""Messages as data: Block Kit blocks plus a plain-text fallback, within Slack's limits.

Everything taken from data goes through :func:`esc`, so a team called
``<!channel>`` pings nobody. :func:`finalize` enforces the limits (50 blocks,
3000 characters per section, 150 per header, 10 fields) before anything leaves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from usage.formatting import (  # noqa: F401 (re-exported for the answers)
    ELLIPSIS,
    cut,
    esc,
    percent,
    plural,
    tokens,
    usd,
)

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT = 3000


@dataclass
class Message:
    """What Slack shows: fallback ``text`` and ``blocks``; ephemeral unless asked otherwise."""

    text: str
    blocks: list[dict] = field(default_factory=list)
    response_type: str = "ephemeral"

    def payload(self) -> dict:
        return {
            "response_type": self.response_type,
            "text": self.text,
            "blocks": self.blocks,
        }


def header(text: str) -> dict:
    """A header block; ``text`` is plain text (not mrkdwn), so it needs no escaping."""
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": cut(text, MAX_HEADER)},
    }


def section(text: str, *, fields: list[str] | None = None) -> dict:
    block: dict = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION)},
    }
    if fields:
        block["fields"] = [
            {"type": "mrkdwn", "text": cut(item, MAX_FIELD)}
            for item in fields[:MAX_FIELDS]
        ]
    return block


def fields_section(fields: list[str]) -> dict:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": cut(item, MAX_FIELD)}
            for item in fields[:MAX_FIELDS]
        ],
    }


def context(*texts: str) -> dict:
    elements = [
        {"type": "mrkdwn", "text": cut(text, MAX_TEXT)}
        for text in texts[:MAX_CONTEXT_ELEMENTS]
        if text
    ]
    return {
        "type": "context",
        "elements": elements or [{"type": "mrkdwn", "text": " "}],
    }


def divider() -> dict:
    return {"type": "divider"}


def button(
    text: str, *, action_id: str, value: str = "", style: str | None = None
) -> dict:
    item = {
        "type": "button",
        "text": {"type": "plain_text", "text": cut(text, 75), "emoji": True},
        "action_id": action_id,
    }
    if value:
        item["value"] = value[:2000]
    if style:
        item["style"] = style
    return item


def actions(*buttons: dict, block_id: str | None = None) -> dict:
    block: dict = {"type": "actions", "elements": list(buttons)[:25]}
    if block_id:
        block["block_id"] = block_id
    return block


def finalize(text: str, blocks: list[dict], *, more_hint: str = "") -> Message:
    """Build a message that fits Slack's limits; overflowing blocks are summarised."""
    if len(blocks) > MAX_BLOCKS:
        hidden = len(blocks) - (MAX_BLOCKS - 1)
        note = f"{hidden} more section(s) left out to fit one message."
        if more_hint:
            note += f" {more_hint}"
        blocks = [*blocks[: MAX_BLOCKS - 1], context(note)]
    return Message(text=cut(text or " ", MAX_TEXT), blocks=blocks)


# -- numbers ----------------------------------------------------------------


# -- plain text for terminals -------------------------------------------------

EMOJI = {":warning:": "⚠", ":white_check_mark:": "✓", ":bulb:": "💡"}
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")


def _plain(mrkdwn: str) -> str:
    text = _LINK.sub(r"\2", mrkdwn)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"\1", text)
    for code, symbol in EMOJI.items():
        text = text.replace(code, symbol)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def to_plain_text(message: Message) -> str:
    """What a terminal shows for a message: its blocks as readable lines."""
    lines: list[str] = []
    for block in message.blocks:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            lines += ["", title, "=" * min(len(title), 72)]
        elif kind == "section":
            if "text" in block:
                lines.append(_plain(block["text"]["text"]))
            for item in block.get("fields", []):
                lines.append(
                    "  "
                    + _plain(item["text"]).replace("\n", ": ", 1).replace("\n", " ")
                )
        elif kind == "context":
            lines.append(
                "  " + " · ".join(_plain(e.get("text", "")) for e in block["elements"])
            )
        elif kind == "divider":
            lines.append("")
        elif kind == "actions":
            labels = [e["text"]["text"] for e in block["elements"] if "text" in e]
            lines.append("  [" + "] [".join(labels) + "]")
    if not lines:
        lines.append(message.text)
    return "\n".join(lines).strip("\n") + "\n"
