"""The local console: ``/aispend …`` lines from stdin, answers as plain text.

It answers exactly what Slack would show the person given by ``--as``, on
the configured database, with no Slack connection at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from commands import answer, to_plain_text
from usage.directory import require_person

PREFIX = "/aispend"
PROMPT = "/aispend "


def strip_command(line: str) -> str | None:
    """The text after ``/aispend`` (the prefix is optional); None for a blank line."""
    text = line.strip()
    if text.lower().startswith(PREFIX):
        text = text[len(PREFIX) :].strip()
    elif not text:
        return None
    return text


async def run_console(
    sessions: async_sessionmaker[AsyncSession],
    *,
    email: str,
    today: Callable[[], date],
    lines: TextIO,
    out: TextIO,
    interactive: bool = False,
) -> int:
    """Answer each line until end of input; returns the exit status (0)."""
    async with sessions() as session:
        asker = await require_person(session, email)
    if interactive:
        out.write(f"aispend console as {asker.name}; Ctrl-D to leave.\n")
    while True:
        if interactive:
            out.write(PROMPT)
            out.flush()
        line = await asyncio.to_thread(lines.readline)
        if not line:
            return 0
        text = strip_command(line)
        if text is None:
            continue
        async with sessions() as session:
            message = await answer(session, asker=asker, text=text, today=today())
        out.write(to_plain_text(message))
        out.write("\n")
        out.flush()
