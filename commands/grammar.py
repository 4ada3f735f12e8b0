"""The ``/aispend`` grammar: subcommands, their arguments and period words.

Subcommands register themselves with :func:`subcommand`; the help text, the
manifest's usage hint and the README are checked against this registry.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from usage.periods import Period, parse_period

MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
MAILTO = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$")
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
MAX_TEXT = 500


@dataclass(frozen=True)
class Request:
    """A parsed ``/aispend`` line."""

    name: str
    words: tuple[str, ...]
    period: Period | None
    text: str
    slack_id: str | None = None  # for a person: the mentioned Slack id
    email: str | None = None  # for a person: a written email address
    handle: str | None = None  # for a person: "@name" typed without a mention

    @property
    def rest(self) -> str:
        return " ".join(self.words)


Handler = Callable[..., Awaitable]


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    admin_only: bool = False
    takes_period: bool = True


REGISTRY: dict[str, Subcommand] = {}


def subcommand(
    name: str,
    *,
    usage: str,
    summary: str,
    aliases: tuple[str, ...] = (),
    admin_only: bool = False,
    takes_period: bool = True,
):
    """Register a handler ``async (ctx, request) -> Message`` for ``/aispend NAME``."""

    def register(handler: Handler) -> Handler:
        REGISTRY[name] = Subcommand(
            name, usage, summary, handler, aliases, admin_only, takes_period
        )
        return handler

    return register


def lookup(word: str) -> Subcommand | None:
    word = word.lower()
    if word in REGISTRY:
        return REGISTRY[word]
    for command in REGISTRY.values():
        if word in command.aliases:
            return command
    return None


def names() -> list[str]:
    """Every subcommand name, in help order."""
    return list(REGISTRY)


class NotUnderstood(Exception):
    """The text is no ``/aispend`` command; ``suggestion`` is the closest one."""

    def __init__(self, text: str, suggestion: str | None):
        super().__init__(text)
        self.text = text
        self.suggestion = suggestion


def split_period(words: list[str], *, today: date) -> tuple[list[str], Period | None]:
    """Take period words off the end: ``platform last week`` -> (``platform``, last week)."""
    for size in range(min(len(words), 5), 0, -1):
        period = parse_period(" ".join(words[-size:]), today=today)
        if period is not None:
            return words[:-size], period
    return words, None


def parse(text: str, *, today: date) -> Request:
    """Parse a ``/aispend`` line; raises NotUnderstood or UserError (bad period)."""
    text = " ".join((text or "").split())[:MAX_TEXT]
    words = text.split(" ") if text else []
    if not words:
        return Request("me", (), None, text)
    first = words[0]
    if person := _person_word(first):
        rest, period = split_period(words[1:], today=today)
        if rest:
            raise NotUnderstood(text, f"{first} {_period_hint(rest)}")
        return Request("@person", (), period, text, **person)
    command = lookup(first.lstrip("/"))
    if command is not None:
        rest, period = (
            split_period(words[1:], today=today)
            if command.takes_period
            else (words[1:], None)
        )
        return Request(command.name, tuple(rest), period, text)
    rest, period = split_period(words, today=today)
    if period is not None and not rest:
        return Request("me", (), period, text)
    raise NotUnderstood(text, _suggest(first, words))


def _person_word(word: str) -> dict | None:
    if match := MENTION.match(word):
        return {"slack_id": match[1]}
    if match := MAILTO.match(word):
        return {"email": match[1].lower()}
    if EMAIL.match(word):
        return {"email": word.lower()}
    if word.startswith("@") and len(word) > 1:
        return {"handle": word[1:].lower()}
    return None


def _period_hint(rest: list[str]) -> str:
    return "last week" if rest else ""


def _suggest(first: str, words: list[str]) -> str | None:
    candidates = {name: name for name in REGISTRY}
    for command in REGISTRY.values():
        for alias in command.aliases:
            candidates[alias] = command.name
    close = difflib.get_close_matches(first.lower(), list(candidates), n=1, cutoff=0.6)
    if close:
        tail = " ".join(words[1:])
        return f"{candidates[close[0]]} {tail}".strip()
    return None
