"""The scheduler: one per deployment, a loop on the ledger.

Each tick, the process that holds the database lease:

1. plans every manager's digest whose fire time (their weekday and local
   time, default Monday 09:00 in their own zone) has passed for the current
   week and is not in the ledger yet; after downtime that is one catch-up,
   for the latest week only, because the ledger key is the week;
2. plans this week's nudges and the alerts that hold (also keyed by period);
3. delivers whatever is due.

Processes without the lease do nothing; if the holder dies, its lease
expires and another process takes over. Sends stay exactly-once even if two
processes ever run a tick together (the ledger's claims see to that).
Time comes from an injected clock and waits from an injected sleep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import BatchReport, Clock, Deliverer, default_worker
from digests import alerts, nudges, weekly
from digests.schedule import (
    last_fire,
    next_fire,
    parse_clock,
    week_before,
    week_key,
    zone,
)
from usage import ledger
from usage.ingest import begin_write, price_table
from usage.models import Person, PersonPrefs
from usage.periods import week_period
from usage.settings import Settings, load_settings

logger = logging.getLogger(__name__)

LEASE = "scheduler"
LEASE_HOLD = timedelta(minutes=2)
TICK = 60.0

__all__ = ["Scheduler", "TickReport", "digest_fire_times", "last_fire", "next_fire"]


@dataclass
class TickReport:
    leader: bool
    digests_planned: int = 0
    nudges_planned: int = 0
    alerts_planned: int = 0
    late: list[tuple[str, timedelta]] = field(default_factory=list)
    delivery: BatchReport | None = None


def digest_fire_times(
    person: Person, prefs: PersonPrefs | None, settings: Settings
) -> tuple[str, str]:
    """The weekday and local time of a manager's digest."""
    weekday = (prefs.digest_weekday if prefs else None) or settings.get(
        "digest.weekday", "mon"
    )
    at = (prefs.digest_time if prefs else None) or settings.get("digest.time", "09:00")
    return weekday, at


class Scheduler:
    """Ticks on a clock; only the lease holder plans and sends."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        deliverer: Deliverer,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        holder: str | None = None,
        lease_hold: timedelta = LEASE_HOLD,
        late_after: timedelta = timedelta(minutes=15),
    ):
        self.sessions = sessions
        self.deliverer = deliverer
        self.clock = clock
        self.sleep = sleep
        self.holder = holder or default_worker()
        self.lease_hold = lease_hold
        self.late_after = late_after

    async def tick(self) -> TickReport:
        """One round: take the lease, plan what is due, deliver."""
        now = self.clock()
        async with self.sessions() as session:
            await begin_write(session)
            leader = await ledger.acquire_lease(
                session, LEASE, holder=self.holder, now=now, hold=self.lease_hold
            )
            await session.commit()
        report = TickReport(leader=leader)
        if not leader:
            return report
        await self._plan(report, now)
        report.delivery = await self.deliverer.deliver_due()
        return report

    async def _plan(self, report: TickReport, now: datetime) -> None:
        async with self.sessions() as session:
            await begin_write(session)
            settings = await load_settings(session)
            await self._plan_digests(session, settings, now, report)
            await session.commit()
        for step in (self._plan_nudges, self._plan_alerts):
            try:
                async with self.sessions() as session:
                    await begin_write(session)
                    settings = await load_settings(session)
                    await step(session, settings, now, report)
                    await session.commit()
            except Exception:
                logger.exception("scheduled step %s failed", step.__name__)

    async def _plan_digests(self, session, settings, now, report) -> None:
        reporting = settings.reporting_zone
        for manager in await weekly.managers(session):
            prefs = await session.get(PersonPrefs, manager.id)
            weekday, at = digest_fire_times(manager, prefs, settings)
            fire = last_fire(
                now, weekday=weekday, at=parse_clock(at), tz=zone(manager.timezone)
            )
            period = week_before(fire, reporting)
            if await ledger.entry_for(
                session,
                kind=weekly.DIGEST_KIND,
                recipient=manager.email,
                period=week_key(period),
            ):
                continue
            if now - fire > self.late_after:
                logger.warning(
                    "digest for %s is %s late (the scheduler was not running)",
                    week_key(period),
                    now - fire,
                )
                report.late.append((manager.email, now - fire))
            try:
                report.digests_planned += await weekly.plan_digests(
                    session,
                    period=period,
                    today=now.astimezone(reporting).date(),
                    settings=settings,
                    now=now,
                    only=[manager.email],
                )
            except Exception:
                logger.exception("planning a digest failed")

    async def _plan_nudges(self, session, settings, now, report) -> None:
        # TODO: nudges look at the running week only, because a nudge is about
        # now; spend that lands after its week ended never nudges.
        today = now.astimezone(settings.reporting_zone).date()
        scan = await nudges.find_nudges(
            session,
            period=week_period(today),
            today=today,
            settings=settings,
            prices=await price_table(settings),
            now=now,
        )
        report.nudges_planned += await nudges.plan_nudges(session, scan, now=now)

    async def _plan_alerts(self, session, settings, now, report) -> None:
        today = now.astimezone(settings.reporting_zone).date()
        found = await alerts.check_alerts(session, today=today, settings=settings)
        report.alerts_planned += await alerts.plan_alerts(session, found, now=now)

    async def run(self, stop: asyncio.Event, *, every: float = TICK) -> None:
        """Tick until ``stop`` is set; a failed tick is logged and the loop goes on."""
        logger.info("scheduler %s started", self.holder)
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                logger.exception("scheduler tick failed")
            await self.sleep(every)
        async with self.sessions() as session:
            await begin_write(session)
            await ledger.release_lease(session, LEASE, holder=self.holder)
            await session.commit()
        logger.info("scheduler %s stopped", self.holder)
