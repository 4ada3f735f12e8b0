"""Deliver the ledger's pending messages to Slack, each exactly once.

For each due entry: claim it, find the recipient's Slack id, post, mark it
sent. The steps are arranged so that a crash anywhere cannot send twice:

1. the claim is committed before anything is sent;
2. before the post, the entry records the channel it goes to: from then on
   the message may exist in Slack;
3. the post carries message metadata naming the entry;
4. whoever resumes an entry that may have been posted (a crashed process's
   claim, or a post whose answer was lost) reads the channel's recent
   history for that metadata first, and marks the entry sent if it is there.

That needs ``im:history`` (and ``channels:history`` for alert channels).
Without it, a message whose answer was lost is sent again, so a duplicate is
possible in that one window; the log says so.

Recipients that cannot receive are skipped with the reason recorded; a token
that stopped working stops the batch; one recipient's failure never stops
the others.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.slack_client import (
    BadMessage,
    DeliveryStopped,
    RecipientUnavailable,
    SlackClient,
    SlackError,
    TransientFailure,
    UncertainDelivery,
)
from usage import ledger
from usage.ingest import begin_write
from usage.models import LedgerEntry, SlackUser, utcnow

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
METADATA_TYPE = "aispend_notification"
POSITIVE_TTL = timedelta(days=7)
NEGATIVE_TTL = timedelta(days=1)
HISTORY_DEPTH = 100
UNCERTAIN_RETRY = timedelta(minutes=1)
SKIP_REASONS = {
    "users_not_found": "no Slack account for this email (unknown or deactivated)",
    "user_not_found": "no Slack account for this email (unknown or deactivated)",
    "user_disabled": "the Slack account is deactivated",
    "cannot_dm_bot": "the Slack account is a bot",
    "channel_not_found": "the channel does not exist or the bot is not in it",
    "deleted": "the Slack account is deactivated",
    "bot": "the Slack account is a bot",
    "not_found": "no Slack account for this email (unknown or deactivated)",
}


def default_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RecipientResolver:
    """Slack user ids for people: the directory's id, else a look-up by email.

    Answers, including "not found", are cached in ``slack_users``; a negative
    answer is trusted for a day, a positive one for a week.
    """

    def __init__(
        self, client: SlackClient, sessions: async_sessionmaker, *, clock: Clock
    ):
        self.client = client
        self.sessions = sessions
        self.clock = clock

    async def resolve(self, *, email: str, slack_user_id: str | None) -> str:
        """The Slack user id to DM; raises RecipientUnavailable with the reason."""
        email = email.strip().lower()
        cached = await self._cached(email)
        if cached is not None:
            status, user_id = cached
            if status == "ok" and user_id:
                return user_id
            raise RecipientUnavailable("cache", status)
        try:
            if slack_user_id:
                user = await self.client.user_info(slack_user_id)
            else:
                user = await self.client.lookup_by_email(email)
        except RecipientUnavailable as exc:
            await self._store(email, None, None, "not_found")
            raise RecipientUnavailable(exc.method, exc.error) from exc
        status = "deleted" if user.get("deleted") else "ok"
        if user.get("is_bot"):
            status = "bot"
        await self._store(email, user.get("id"), user.get("tz"), status)
        if status != "ok":
            raise RecipientUnavailable("users.info", status)
        return user["id"]

    async def _cached(self, email: str) -> tuple[str, str | None] | None:
        async with self.sessions() as session:
            row = await session.get(SlackUser, email)
        if row is None:
            return None
        ttl = POSITIVE_TTL if row.status == "ok" else NEGATIVE_TTL
        if self.clock() - row.looked_up_at > ttl:
            return None
        return row.status, row.slack_user_id

    async def _store(
        self, email: str, user_id: str | None, tz: str | None, status: str
    ) -> None:
        async with self.sessions() as session:
            await begin_write(session)
            row = await session.get(SlackUser, email)
            if row is None:
                row = SlackUser(email=email)
                session.add(row)
            row.slack_user_id = user_id
            row.timezone = tz
            row.status = status
            row.looked_up_at = self.clock()
            await session.commit()


@dataclass
class BatchReport:
    """What one delivery run did."""

    sent: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    retry_later: int = 0
    failed: int = 0
    confirmed_from_history: int = 0
    stopped: str | None = None

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def lines(self) -> list[str]:
        lines = [f"sent: {self.sent}"]
        if self.confirmed_from_history:
            lines.append(
                f"  of which found already posted after a restart: {self.confirmed_from_history}"
            )
        lines += [f"skipped ({why}): {n}" for why, n in sorted(self.skipped.items())]
        if self.retry_later:
            lines.append(f"to retry later: {self.retry_later}")
        if self.failed:
            lines.append(f"failed: {self.failed}")
        if self.stopped:
            lines.append(
                f"stopped: Slack refused the bot token ({self.stopped}); "
                "an admin needs to reinstall the app or fix SLACK_BOT_TOKEN"
            )
        return lines


class Deliverer:
    """Sends due ledger entries; safe to run in several processes at once."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        client: SlackClient,
        clock: Clock = utcnow,
        worker: str | None = None,
        hold: timedelta = ledger.DEFAULT_CLAIM,
    ):
        self.sessions = sessions
        self.client = client
        self.clock = clock
        self.worker = worker or default_worker()
        self.hold = hold
        self.resolver = RecipientResolver(client, sessions, clock=clock)

    async def deliver_due(
        self, *, kinds: list[str] | None = None, period: str | None = None
    ) -> BatchReport:
        """Send every entry that is due now; returns what happened."""
        report = BatchReport()
        async with self.sessions() as session:
            ids = await ledger.due_ids(
                session, now=self.clock(), kinds=kinds, period=period
            )
        for entry_id in ids:
            entry = await self._claim(entry_id)
            if entry is None:
                continue
            try:
                await self._deliver(entry, report)
            except DeliveryStopped as exc:
                await self._release(entry, f"stopped: {exc.error}", retry_at=None)
                report.stopped = exc.error
                logger.error(
                    "Slack refused the bot token (%s); sending stopped", exc.error
                )
                break
            except Exception:
                logger.exception("delivery of ledger entry %d failed", entry.id)
                await self._retry_or_fail(entry, "unexpected error", report)
        return report

    async def _claim(self, entry_id: int) -> LedgerEntry | None:
        async with self.sessions() as session:
            await begin_write(session)
            entry = await ledger.claim(
                session,
                entry_id,
                worker=self.worker,
                now=self.clock(),
                hold=self.hold,
            )
            await session.commit()
        return entry

    async def _deliver(self, entry: LedgerEntry, report: BatchReport) -> None:
        target = entry.detail.get("target") or {}
        message = entry.detail.get("message") or {}
        try:
            dm_user = None
            if target.get("channel"):
                address = target["channel"]
            else:
                dm_user = await self.resolver.resolve(
                    email=target.get("email") or entry.recipient,
                    slack_user_id=target.get("slack_user_id"),
                )
                address = dm_user
        except RecipientUnavailable as exc:
            await self._skip(entry, exc.error, report)
            return
        if entry.channel and await self._already_posted(entry, dm_user, report):
            return
        await self._write(ledger.note_channel, entry, channel=address)
        try:
            posted = await self._post(entry, address, message)
        except RecipientUnavailable as exc:
            await self._skip(entry, exc.error, report)
            return
        except UncertainDelivery as exc:
            logger.warning(
                "ledger entry %d: post answered %s; will check before resending",
                entry.id,
                exc.error,
            )
            await self._release(
                entry,
                f"uncertain: {exc.error}",
                retry_at=self.clock() + UNCERTAIN_RETRY,
            )
            report.retry_later += 1
            return
        except TransientFailure as exc:
            await self._retry_or_fail(entry, f"Slack kept failing: {exc.error}", report)
            return
        await self._write(
            ledger.mark_sent,
            entry,
            channel=posted["channel"],
            ts=posted["ts"],
            note=posted.get("note"),
        )
        report.sent += 1

    async def _post(
        self, entry: LedgerEntry, address: str, message: dict[str, Any]
    ) -> dict[str, Any]:
        metadata = {
            "event_type": METADATA_TYPE,
            "event_payload": {
                "ledger_id": entry.id,
                "kind": entry.kind,
                "period": entry.period,
            },
        }
        text = message.get("text") or ""
        try:
            answer = await self.client.post_message(
                address, text=text, blocks=message.get("blocks"), metadata=metadata
            )
            return {"channel": answer["channel"], "ts": answer["ts"]}
        except BadMessage as exc:
            logger.error(
                "Slack refused the blocks of ledger entry %d (%s: %s); sending text",
                entry.id,
                exc.error,
                exc.detail,
            )
            answer = await self.client.post_message(
                address, text=text[:3000], metadata=metadata
            )
            return {
                "channel": answer["channel"],
                "ts": answer["ts"],
                "note": f"sent as plain text: Slack said {exc.error}",
            }

    async def _already_posted(
        self, entry: LedgerEntry, dm_user: str | None, report: BatchReport
    ) -> bool:
        """Look for this entry's message in the channel before sending it again."""
        try:
            channel = await self.client.open_dm(dm_user) if dm_user else entry.channel
            messages = await self.client.history(channel, limit=HISTORY_DEPTH)
        except (DeliveryStopped, SlackError) as exc:
            # NOTE: an installation that removed the history scopes cannot
            # confirm; the message is sent again rather than dropped.
            logger.warning(
                "ledger entry %d: cannot read history (%s); sending again",
                entry.id,
                exc.error,
            )
            return False
        for found in messages:
            payload = (found.get("metadata") or {}).get("event_payload") or {}
            if payload.get("ledger_id") == entry.id:
                await self._write(
                    ledger.mark_sent,
                    entry,
                    channel=channel,
                    ts=found["ts"],
                    note="found already posted after an interrupted send",
                )
                report.sent += 1
                report.confirmed_from_history += 1
                return True
        return False

    async def _skip(self, entry: LedgerEntry, error: str, report: BatchReport) -> None:
        reason = SKIP_REASONS.get(error, error)
        logger.warning("skipping ledger entry %d: %s", entry.id, reason)
        await self._write(ledger.mark_skipped, entry, reason=reason)
        report.skip(reason)

    async def _retry_or_fail(
        self, entry: LedgerEntry, reason: str, report: BatchReport
    ) -> None:
        if entry.attempts >= ledger.MAX_ATTEMPTS:
            await self._write(ledger.mark_failed, entry, reason=reason)
            report.failed += 1
            return
        delay = timedelta(minutes=2**entry.attempts)
        await self._release(entry, reason, retry_at=self.clock() + delay)
        report.retry_later += 1

    async def _release(
        self, entry: LedgerEntry, reason: str, *, retry_at: datetime | None
    ) -> None:
        await self._write(ledger.release, entry, reason=reason, retry_at=retry_at)

    async def _write(self, action, entry: LedgerEntry, **values: Any) -> None:
        async with self.sessions() as session:
            await begin_write(session)
            done = await action(
                session, entry.id, worker=self.worker, now=self.clock(), **values
            )
            await session.commit()
        if not done:
            logger.warning(
                "ledger entry %d was taken over by another process", entry.id
            )
        if "channel" in values:
            entry.channel = values["channel"]
