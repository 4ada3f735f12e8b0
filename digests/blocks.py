"""Messages as data: Block Kit blocks from jinja2 templates, within Slack's limits.

A template writes what a person reads; lines of the form ``[[section]]``,
``[[header]]``, ``[[context]]``, ``[[fields]]`` or ``[[divider]]`` start a new
block, and in a ``[[fields]]`` block a line ``||`` separates the fields.
Everything a template prints is escaped for mrkdwn (``&``, ``<``, ``>``) unless
it is :class:`Mrkdwn` built here, so data such as a team called ``<!channel>``
pings nobody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from usage.formatting import cut, esc, percent, plural, tokens, usd

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_CONTEXT = 10
MAX_BUTTON = 75
MAX_TEXT = 3000
SPARK = "▁▂▃▄▅▆▇█"
_MARKER = re.compile(r"^\[\[(header|section|context|fields|divider)\]\]\s*$")


class Mrkdwn(str):
    """Text that is already mrkdwn and must not be escaped again."""


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Mrkdwn):
        return value
    return esc(value)


# -- numbers ---------------------------------------------------------------


def change(now: int, before: int | None) -> str:
    """``+12%`` / ``-40%`` / ``new`` against an earlier figure."""
    if before is None:
        return "no earlier figure"
    if before <= 0:
        return "new spend" if now > 0 else "no change"
    ratio = now / before - 1
    if abs(ratio) < 0.005:
        return "no change"
    return f"{'+' if ratio > 0 else '−'}{abs(ratio) * 100:.0f}%"


def sparkline(values: list[int]) -> str:
    """Eight bars for eight weeks, scaled between the smallest and largest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return SPARK[3] * len(values)
    steps = len(SPARK) - 1
    return "".join(SPARK[round((v - low) / (high - low) * steps)] for v in values)


# -- blocks ----------------------------------------------------------------


def header(text: str) -> dict:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": cut(text, MAX_HEADER)},
    }


def section(text: str) -> dict:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION)},
    }


def fields(items: list[str]) -> dict:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": cut(item, MAX_FIELD)}
            for item in items[:MAX_FIELDS]
        ],
    }


def context(*texts: str) -> dict:
    elements = [
        {"type": "mrkdwn", "text": cut(t, MAX_TEXT)} for t in texts[:MAX_CONTEXT] if t
    ]
    return {
        "type": "context",
        "elements": elements or [{"type": "mrkdwn", "text": " "}],
    }


def divider() -> dict:
    return {"type": "divider"}


def button(text: str, *, action_id: str, value: str, style: str | None = None) -> dict:
    item: dict = {
        "type": "button",
        "text": {"type": "plain_text", "text": cut(text, MAX_BUTTON)},
        "action_id": action_id,
        "value": value[:2000],
    }
    if style:
        item["style"] = style
    return item


def actions(buttons: list[dict], *, block_id: str) -> dict:
    return {"type": "actions", "block_id": block_id, "elements": buttons[:25]}


def _split_long(text: str) -> list[str]:
    """Cut a long section into pieces under the limit, at line breaks."""
    pieces, current = [], ""
    for line in text.split("\n"):
        line = cut(line, MAX_SECTION)
        if current and len(current) + 1 + len(line) > MAX_SECTION:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        pieces.append(current)
    return pieces


def _block(kind: str, body: str) -> list[dict]:
    body = body.strip("\n")
    if kind == "divider":
        return [divider()]
    if not body.strip():
        return []
    if kind == "header":
        return [header(" ".join(body.split()))]
    if kind == "context":
        return [context(*[line for line in body.split("\n") if line.strip()])]
    if kind == "fields":
        items = [item.strip("\n") for item in body.split("\n||\n") if item.strip()]
        return [
            fields(items[i : i + MAX_FIELDS]) for i in range(0, len(items), MAX_FIELDS)
        ]
    return [section(piece) for piece in _split_long(body)]


def parse_blocks(rendered: str) -> list[dict]:
    """Turn a rendered template into blocks (see the module docstring)."""
    blocks: list[dict] = []
    kind, lines = None, []
    for line in rendered.split("\n"):
        match = _MARKER.match(line)
        if match:
            if kind:
                blocks += _block(kind, "\n".join(lines))
            kind, lines = match[1], []
        else:
            lines.append(line)
    if kind:
        blocks += _block(kind, "\n".join(lines))
    return blocks


_ENV = Environment(
    loader=PackageLoader("digests", "templates"),
    autoescape=False,  # mrkdwn, not HTML: escaping happens in finalize
    finalize=_finalize,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters.update(
    usd=usd,
    tokens=tokens,
    percent=percent,
    change=change,
    plural=plural,
    esc=esc,
)


def render(template: str, **values: Any) -> str:
    return _ENV.get_template(template).render(**values)


def template_names() -> list[str]:
    return sorted(_ENV.list_templates())


@dataclass
class Message:
    """What Slack shows: fallback ``text`` and ``blocks``."""

    text: str
    blocks: list[dict] = field(default_factory=list)

    def payload(self) -> dict:
        return {"text": self.text, "blocks": self.blocks}


def finalize(text: str, blocks: list[dict], *, overflow_note: str) -> Message:
    """A message within Slack's limits; blocks past 50 are summarised in one line."""
    if len(blocks) > MAX_BLOCKS:
        hidden = len(blocks) - (MAX_BLOCKS - 1)
        note = overflow_note.format(count=hidden)
        keep = blocks[: MAX_BLOCKS - 1]
        if keep and keep[-1].get("type") == "actions":
            keep = [*keep[:-2], keep[-1]]  # keep the buttons, drop one more section
        blocks = [*keep, context(note)]
    return Message(text=cut(" ".join(text.split()) or " ", MAX_TEXT), blocks=blocks)
