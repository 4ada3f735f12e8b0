"""A person's own choices (``person_prefs``): opt-outs, snooze, digest time, quiet hours.

Writes wait a bounded time for the database's write lock: a long import may
hold it, and a person who changes a setting in Slack must hear within
Slack's three seconds whether it was saved. When the wait runs out the
change is rolled back and :class:`NotSaved` says so; nothing is lost silently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, time
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from usage.db import SQLITE_BUSY_TIMEOUT_MS
from usage.errors import UserError
from usage.models import AuditEntry, PersonPrefs, utcnow

logger = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
LOCK_WAIT_MS = 1500
MAX_SNOOZE_DAYS = 90
KINDS = ("nudges", "digest")


class NotSaved(UserError):
    """The database stayed busy past the bounded wait; the change was not stored."""


@dataclass(frozen=True)
class Prefs:
    """A person's settings as plain values (defaults for someone who never chose)."""

    nudges_opt_out: bool = False
    digest_opt_out: bool = False
    snoozed_until: date | None = None  # nudges resume on this day
    digest_weekday: str | None = None  # mon..sun; None: the organisation's default
    digest_time: str | None = None  # HH:MM local; None: the organisation's default
    quiet_start: str | None = None  # HH:MM local
    quiet_end: str | None = None

    def snoozed(self, today: date) -> bool:
        return self.snoozed_until is not None and today < self.snoozed_until

    def nudges_allowed(self, today: date) -> bool:
        return not self.nudges_opt_out and not self.snoozed(today)

    def in_quiet_hours(self, local: time) -> bool:
        """Whether a local time falls in the quiet hours (which may wrap midnight)."""
        if not self.quiet_start or not self.quiet_end:
            return False
        start, end = parse_clock(self.quiet_start), parse_clock(self.quiet_end)
        if start <= end:
            return start <= local < end
        return local >= start or local < end


PREF_FIELDS = tuple(f.name for f in fields(Prefs))


def parse_clock(value: str) -> time:
    """``"9:30"`` -> 09:30; raises ValueError for anything else."""
    match = CLOCK.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time like 09:00")
    return time(int(match[1]), int(match[2]))


def normalize_clock(value: str | None) -> str | None:
    return None if not value else parse_clock(value).strftime("%H:%M")


def _from_row(row: PersonPrefs | None) -> Prefs:
    if row is None:
        return Prefs()
    return Prefs(**{name: getattr(row, name) for name in PREF_FIELDS})


async def load_prefs(session: AsyncSession, person_id: int) -> Prefs:
    """The person's settings, or the defaults when they never changed any."""
    return _from_row(await session.get(PersonPrefs, person_id))


def check_changes(changes: Mapping[str, Any]) -> dict[str, str]:
    """Problems with proposed changes, by field name (empty when all are fine)."""
    problems: dict[str, str] = {}
    for name, value in changes.items():
        if name not in PREF_FIELDS:
            problems[name] = "is not a setting"
        elif name in ("digest_time", "quiet_start", "quiet_end") and value:
            try:
                parse_clock(value)
            except ValueError:
                problems[name] = f"{value!r} is not a time like 09:00"
        elif name == "digest_weekday" and value and value not in WEEKDAYS:
            problems[name] = f"{value!r} is not a weekday ({', '.join(WEEKDAYS)})"
    return problems


async def save_prefs(
    session: AsyncSession,
    *,
    person_id: int,
    changes: Mapping[str, Any],
    actor: str,
    subject: str | None = None,
    lock_wait_ms: int | None = None,
) -> Prefs:
    """Store changes to one person's settings and audit them; returns the new settings.

    ``actor`` made the change; ``subject`` is whose settings they are (the
    actor's own when not given). Raises NotSaved when the write lock is not
    free within ``lock_wait_ms`` (default ``LOCK_WAIT_MS``).
    Commits: whatever the session read before is ended first.
    """
    problems = check_changes(changes)
    if problems:
        name, why = next(iter(problems.items()))
        raise UserError(f"{name} {why}")
    lock_wait_ms = lock_wait_ms or LOCK_WAIT_MS
    await session.commit()
    try:
        await _begin_bounded_write(session, lock_wait_ms)
        row = await session.get(PersonPrefs, person_id)
        if row is None:
            row = PersonPrefs(person_id=person_id, nudges_opt_out=False)
            row.digest_opt_out = False
            session.add(row)
        before = _from_row(row)
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        session.add(
            AuditEntry(
                actor=actor,
                action="prefs.change",
                detail={
                    "person_id": person_id,
                    "person": subject or actor,
                    "changes": {k: _plain(v) for k, v in changes.items()},
                    "before": {k: _plain(getattr(before, k)) for k in changes},
                },
            )
        )
        await session.commit()
    except OperationalError as exc:
        await session.rollback()
        if not _is_lock_timeout(exc):
            raise
        logger.warning(
            "settings change not saved: database busy for %d ms", lock_wait_ms
        )
        raise NotSaved(
            "your change was *not saved*: the database is busy with an import. "
            "Please try again in a minute."
        ) from exc
    return _from_row(row)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


async def _begin_bounded_write(session: AsyncSession, lock_wait_ms: int) -> None:
    """Take the write lock, waiting at most ``lock_wait_ms``."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql(f"PRAGMA busy_timeout={int(lock_wait_ms)}")
        try:
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            await connection.exec_driver_sql(
                f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"
            )
    else:
        await connection.execute(
            text(f"SET LOCAL lock_timeout = '{int(lock_wait_ms)}ms'")
        )


def _is_lock_timeout(exc: OperationalError) -> bool:
    message = str(exc.orig or exc).lower()
    return "locked" in message or "lock timeout" in message or "busy" in message
