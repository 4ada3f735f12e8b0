"""The notification ledger and the scheduler lease.

Every outbound message is first written down under a unique key
(kind, recipient, period), so planning the same message twice does nothing.
A sender then moves it through these states:

    pending -> claimed -> sent | skipped | failed
                  |
                  +-> pending again (a transient failure, retried later)

A claim carries an expiry: a process that dies while holding one loses it
when the expiry passes, and another process takes the entry over. Claims are
compare-and-set updates, so two processes never hold the same entry.

The lease makes one process the scheduler of a deployment: it is held for a
while and renewed; when the holder stops renewing, another process takes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from usage.models import Lease, LedgerEntry

STATES = ("pending", "claimed", "sent", "skipped", "failed")
RESPONSES = ("thanks", "snooze", "why", "stop", "expected", "not_expected")
DEFAULT_CLAIM = timedelta(minutes=5)
MAX_ATTEMPTS = 5


def _insert(session: AsyncSession, table):
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


@dataclass(frozen=True)
class Planned:
    """What to send: the key, when it may go out, and what the sender needs."""

    kind: str
    recipient: str
    period: str
    detail: dict[str, Any]
    not_before: datetime | None = None


async def plan(
    session: AsyncSession, items: Iterable[Planned], *, now: datetime
) -> int:
    """Write down messages not yet in the ledger; returns how many were new."""
    return len(await plan_new(session, items, now=now))


async def plan_new(
    session: AsyncSession, items: Iterable[Planned], *, now: datetime
) -> dict[tuple[str, str, str], int]:
    """Like :func:`plan`; returns the ids of the new entries by their key."""
    rows = [
        {
            "kind": item.kind,
            "recipient": item.recipient,
            "period": item.period,
            "state": "pending",
            "attempts": 0,
            "not_before": item.not_before,
            "detail": item.detail,
            "created_at": now,
            "updated_at": now,
        }
        for item in items
    ]
    entry = LedgerEntry
    new: dict[tuple[str, str, str], int] = {}
    for start in range(0, len(rows), 500):
        stmt = (
            _insert(session, entry)
            .values(rows[start : start + 500])
            .on_conflict_do_nothing(index_elements=["kind", "recipient", "period"])
            .returning(entry.id, entry.kind, entry.recipient, entry.period)
        )
        for entry_id, kind, recipient, period in await session.execute(stmt):
            new[(kind, recipient, period)] = entry_id
    return new


async def set_detail(session: AsyncSession, entry_id: int, **values: Any) -> None:
    """Add to an entry's detail (the message to send, once its id is known)."""
    entry = await session.get(LedgerEntry, entry_id)
    if entry is not None:
        entry.detail = {**(entry.detail or {}), **values}


async def record_skip(
    session: AsyncSession, item: Planned, *, reason: str, now: datetime
) -> None:
    """Write down a message that will not be sent, with why (shown to admins)."""
    stmt = _insert(session, LedgerEntry).values(
        kind=item.kind,
        recipient=item.recipient,
        period=item.period,
        state="skipped",
        reason=reason,
        attempts=0,
        detail=item.detail,
        created_at=now,
        updated_at=now,
    )
    await session.execute(
        stmt.on_conflict_do_nothing(index_elements=["kind", "recipient", "period"])
    )


def _claimable(now: datetime):
    entry = LedgerEntry
    ready = or_(entry.not_before.is_(None), entry.not_before <= now)
    return or_(
        and_(entry.state == "pending", ready),
        and_(entry.state == "claimed", entry.claimed_until < now),
    )


async def due_ids(
    session: AsyncSession,
    *,
    now: datetime,
    kinds: Sequence[str] | None = None,
    period: str | None = None,
    limit: int = 1000,
) -> list[int]:
    """Entries that may be claimed now, oldest first."""
    query = select(LedgerEntry.id).where(_claimable(now))
    if kinds:
        query = query.where(LedgerEntry.kind.in_(kinds))
    if period:
        query = query.where(LedgerEntry.period == period)
    query = query.order_by(LedgerEntry.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def claim(
    session: AsyncSession,
    entry_id: int,
    *,
    worker: str,
    now: datetime,
    hold: timedelta = DEFAULT_CLAIM,
) -> LedgerEntry | None:
    """Take one entry for sending; None if another process has it or it is done."""
    result = await session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.id == entry_id, _claimable(now))
        .values(
            state="claimed",
            claimed_by=worker,
            claimed_until=now + hold,
            attempts=LedgerEntry.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return await session.get(LedgerEntry, entry_id, populate_existing=True)


async def _finish(
    session: AsyncSession, entry_id: int, worker: str, **values: Any
) -> bool:
    result = await session.execute(
        update(LedgerEntry)
        .where(
            LedgerEntry.id == entry_id,
            LedgerEntry.state == "claimed",
            LedgerEntry.claimed_by == worker,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def note_channel(
    session: AsyncSession, entry_id: int, *, worker: str, channel: str, now: datetime
) -> bool:
    """Remember where the message is about to go: from here on it may have been posted."""
    return await _finish(session, entry_id, worker, channel=channel, updated_at=now)


async def mark_sent(
    session: AsyncSession,
    entry_id: int,
    *,
    worker: str,
    channel: str,
    ts: str,
    now: datetime,
    note: str | None = None,
) -> bool:
    return await _finish(
        session,
        entry_id,
        worker,
        state="sent",
        channel=channel,
        message_ts=ts,
        reason=note,
        claimed_until=None,
        updated_at=now,
    )


async def mark_skipped(
    session: AsyncSession, entry_id: int, *, worker: str, reason: str, now: datetime
) -> bool:
    return await _finish(
        session,
        entry_id,
        worker,
        state="skipped",
        reason=reason,
        claimed_until=None,
        updated_at=now,
    )


async def mark_failed(
    session: AsyncSession, entry_id: int, *, worker: str, reason: str, now: datetime
) -> bool:
    return await _finish(
        session,
        entry_id,
        worker,
        state="failed",
        reason=reason,
        claimed_until=None,
        updated_at=now,
    )


async def release(
    session: AsyncSession,
    entry_id: int,
    *,
    worker: str,
    reason: str,
    now: datetime,
    retry_at: datetime | None = None,
) -> bool:
    """Give a claimed entry back to be tried again (at ``retry_at`` or at once)."""
    return await _finish(
        session,
        entry_id,
        worker,
        state="pending",
        reason=reason,
        not_before=retry_at,
        claimed_by=None,
        claimed_until=None,
        updated_at=now,
    )


async def record_response(
    session: AsyncSession, entry_id: int, *, response: str, now: datetime
) -> LedgerEntry | None:
    """Store a recipient's button answer on their message's entry."""
    if response not in RESPONSES:
        raise ValueError(f"unknown response {response!r}")
    entry = await session.get(LedgerEntry, entry_id)
    if entry is None:
        return None
    entry.response = response
    entry.detail = {**(entry.detail or {}), "responded_at": now.isoformat()}
    entry.updated_at = now
    return entry


async def entry_for(
    session: AsyncSession, *, kind: str, recipient: str, period: str
) -> LedgerEntry | None:
    found = await session.execute(
        select(LedgerEntry).where(
            LedgerEntry.kind == kind,
            LedgerEntry.recipient == recipient,
            LedgerEntry.period == period,
        )
    )
    return found.scalar_one_or_none()


async def entries(
    session: AsyncSession,
    *,
    kinds: Sequence[str] | None = None,
    period: str | None = None,
) -> list[LedgerEntry]:
    query = select(LedgerEntry).order_by(LedgerEntry.id)
    if kinds:
        query = query.where(LedgerEntry.kind.in_(kinds))
    if period:
        query = query.where(LedgerEntry.period == period)
    return list((await session.execute(query)).scalars())


async def state_counts(
    session: AsyncSession, *, kinds: Sequence[str], period: str | None = None
) -> dict[str, int]:
    query = (
        select(LedgerEntry.state, func.count())
        .where(LedgerEntry.kind.in_(kinds))
        .group_by(LedgerEntry.state)
    )
    if period:
        query = query.where(LedgerEntry.period == period)
    return dict((await session.execute(query)).all())


# -- the scheduler lease --------------------------------------------------------


async def acquire_lease(
    session: AsyncSession,
    name: str,
    *,
    holder: str,
    now: datetime,
    hold: timedelta,
) -> bool:
    """Take or renew the lease ``name``; False while another holder's is unexpired."""
    stmt = _insert(session, Lease).values(
        name=name, holder=holder, expires_at=now + hold
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": holder, "expires_at": now + hold},
        where=or_(Lease.holder == holder, Lease.expires_at < now),
    )
    await session.execute(stmt)
    lease = await session.get(Lease, name, populate_existing=True)
    return lease is not None and lease.holder == holder


async def release_lease(session: AsyncSession, name: str, *, holder: str) -> None:
    """Let the lease go at once (on a clean shutdown)."""
    lease = await session.get(Lease, name)
    if lease is not None and lease.holder == holder:
        await session.delete(lease)
