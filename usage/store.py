"""Writing usage and output into the database: attribution, pricing, dedupe.

Every source hands rows to a :class:`UsageWriter`. Event sources insert and
skip keys already stored; bucketed sources upsert, so a re-pulled bucket
replaces its old figures. Rollups are rebuilt for the touched days before the
transaction commits.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from usage.authority import authoritative_sources, counts, settle_authority
from usage.models import (
    Identity,
    ImportBatch,
    OutputRecord,
    Person,
    SourceState,
    UsageRecord,
    utcnow,
)
from usage.pricing import PriceTable, Tokens, to_micros
from usage.rollups import rebuild_days
from usage.settings import Settings
from usage.staging import StagedInsert

logger = logging.getLogger(__name__)

KEY_CHUNK = 2000
TIERS = ("standard", "batch", "priority", "flex")


@dataclass
class UsageRow:
    """One request or one vendor bucket, as a source read it."""

    source_key: str
    identity: str
    tool: str
    model: str
    identity_kind: str = "email"
    day: date | None = None  # for daily buckets: the vendor's (UTC) date
    occurred_at: datetime | None = None  # for single requests
    tokens: Tokens = field(default_factory=Tokens)
    requests: int = 1
    source_cost: Decimal | None = None
    tier: str = "standard"
    long_context: bool | None = None
    price_from_tokens: bool = True
    location: str = ""


@dataclass
class OutputRow:
    """A count of work for a person and day, such as merged PRs or commits."""

    source_key: str
    identity: str
    day: date
    metric: str
    value: int
    identity_kind: str = "email"
    location: str = ""


@dataclass
class ImportReport:
    source: str
    origin: str
    rows_read: int = 0
    imported: int = 0
    replaced: int = 0
    duplicates: int = 0
    blank: int = 0
    unpriced: int = 0
    unattributed: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    flagged: list[tuple[str, str]] = field(default_factory=list)
    unpriced_models: Counter = field(default_factory=Counter)

    def reject(self, location: str, reason: str) -> None:
        self.rejected.append((location, reason))

    def flag(self, location: str, note: str) -> None:
        self.flagged.append((location, note))

    def lines(self) -> list[str]:
        """The report as printable lines."""
        lines = [
            f"{self.source} import from {self.origin}",
            f"  rows read:           {self.rows_read}",
            f"  imported:            {self.imported}",
        ]
        if self.replaced:
            lines.append(f"  replaced (re-pulled): {self.replaced}")
        lines += [
            f"  duplicates skipped:  {self.duplicates}",
            f"  rejected:            {len(self.rejected)}",
            f"  unpriced:            {self.unpriced}",
        ]
        if self.blank:
            lines.append(f"  blank rows skipped:  {self.blank}")
        if self.unattributed:
            lines.append(
                f"  unattributed:        {self.unattributed} (kept, shown to admins)"
            )
        for model, count in sorted(self.unpriced_models.items()):
            lines.append(
                f"  unpriced model {model}: {count} row(s), kept with their tokens"
            )
        lines += [f"  rejected {where}: {why}" for where, why in self.rejected]
        lines += [f"  note {where}: {what}" for where, what in self.flagged]
        return lines

    def as_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "imported": self.imported,
            "replaced": self.replaced,
            "duplicates": self.duplicates,
            "blank": self.blank,
            "unpriced": self.unpriced,
            "unattributed": self.unattributed,
            "rejected": [list(item) for item in self.rejected[:200]],
            "flagged": [list(item) for item in self.flagged[:200]],
            "unpriced_models": dict(self.unpriced_models),
        }


# Beyond these a figure is a broken export, not usage: one request or one
# daily bucket of a million million tokens, or of ten million dollars.
MAX_TOKENS = 10**12
MAX_COST_USD = Decimal(10_000_000)
TEXT_LIMITS = {"tool": 60, "model": 200, "identity": 320, "source_key": 300}


def _implausible(row: UsageRow) -> str | None:
    tokens = row.tokens
    counts = (
        tokens.input,
        tokens.cache_read,
        tokens.cache_write_5m,
        tokens.cache_write_1h,
        tokens.output,
        row.requests,
    )
    if max(counts) > MAX_TOKENS:
        return "a token or request count too large to be real"
    if row.source_cost is not None and row.source_cost > MAX_COST_USD:
        return f"a cost over ${MAX_COST_USD:,} for one row"
    for name, limit in TEXT_LIMITS.items():
        if len(getattr(row, name)) > limit:
            return f"{name.replace('_', ' ')} longer than {limit} characters"
    return None


def _clean_text(row: UsageRow) -> None:
    """NUL characters cannot be stored in PostgreSQL text; they are never meaningful."""
    for name in TEXT_LIMITS:
        value = getattr(row, name)
        if "\x00" in value:
            setattr(row, name, value.replace("\x00", ""))


class Attribution:
    """Maps usage identities to people: emails, vendor ids, keys, logins."""

    def __init__(self, emails: dict[str, int], identities: dict[tuple[str, str], int]):
        self.emails = emails
        self.identities = identities

    @classmethod
    async def load(cls, session: AsyncSession) -> Attribution:
        people = await session.execute(
            select(Person.email, Person.id, Person.github_login)
        )
        emails: dict[str, int] = {}
        identities: dict[tuple[str, str], int] = {}
        for email, person_id, github in people:
            emails[email] = person_id
            if github:
                identities[("github", github.lower())] = person_id
        rows = await session.execute(
            select(Identity.kind, Identity.value, Identity.person_id, Identity.email)
        )
        for kind, value, person_id, email in rows:
            owner = person_id or (emails.get(email.lower()) if email else None)
            if owner is not None:
                identities[(kind, value)] = owner
        return cls(emails, identities)

    def person_for(self, kind: str, identity: str) -> int | None:
        if kind == "email":
            return self.emails.get(identity.strip().lower())
        if kind == "github":
            return self.identities.get((kind, identity.lower()))
        return self.identities.get((kind, identity))


def _dialect_insert(session: AsyncSession, table):
    """A Core insert for the session's dialect (the ORM bulk path costs more per row)."""
    name = session.bind.dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(table.__table__)


class UsageWriter:
    """Writes one source's rows in one transaction and keeps the import report."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        source: str,
        settings: Settings,
        prices: PriceTable,
        report: ImportReport,
        attribution: Attribution,
    ):
        self.session = session
        self.source = source
        self.settings = settings
        self.prices = prices
        self.report = report
        self.attribution = attribution
        self.zone = settings.reporting_zone
        self.authority = authoritative_sources(settings)
        self.days: set[date] = set()
        self._staging: dict[type, StagedInsert] = {}
        self.imported_at = utcnow()
        # Vendors label days in UTC, which can be a day ahead of the reporting zone.
        today = self.imported_at.astimezone(self.zone).date()
        self.latest_day = today + timedelta(days=1)

    @classmethod
    async def open(
        cls,
        session: AsyncSession,
        *,
        source: str,
        settings: Settings,
        prices: PriceTable,
        report: ImportReport,
    ) -> UsageWriter:
        attribution = await Attribution.load(session)
        return cls(
            session,
            source=source,
            settings=settings,
            prices=prices,
            report=report,
            attribution=attribution,
        )

    # -- usage -------------------------------------------------------------

    def price(self, row: UsageRow) -> tuple[int | None, str] | None:
        """Cost in micro-dollars and its origin, or None (after reporting) to reject."""
        tokens = row.tokens
        if (
            min(
                tokens.input,
                tokens.cache_read,
                tokens.cache_write_5m,
                tokens.cache_write_1h,
                tokens.output,
                row.requests,
            )
            < 0
        ):
            self.report.reject(row.location, "negative token or request count")
            return None
        if row.source_cost is not None and row.source_cost < 0:
            self.report.reject(row.location, "negative cost; spend is never reduced")
            return None
        if row.tier not in TIERS:
            self.report.reject(row.location, f"unknown service tier {row.tier!r}")
            return None
        problem = _implausible(row)
        if problem:
            self.report.reject(row.location, problem)
            return None
        if row.source_cost is not None and row.source_cost > 0:
            return to_micros(row.source_cost), "source"
        if tokens.total and row.price_from_tokens:
            computed = self.prices.cost(
                row.model, tokens, tier=row.tier, long_context=row.long_context
            )
            if computed is None:
                return None, "unpriced"
            return to_micros(computed), "computed"
        if row.source_cost is None and not tokens.total:
            self.report.reject(row.location, "no cost and no tokens")
            return None
        return 0, "source"

    def _record(self, row: UsageRow) -> dict | None:
        _clean_text(row)
        priced = self.price(row)
        if priced is None:
            return None
        cost, origin = priced
        day = row.day
        if day is None:
            if row.occurred_at is None:
                self.report.reject(row.location, "no date")
                return None
            day = row.occurred_at.astimezone(self.zone).date()
        if day > self.latest_day:
            self.report.reject(row.location, f"dated {day}, in the future")
            return None
        person_id = self.attribution.person_for(row.identity_kind, row.identity)
        tokens = row.tokens
        long_context = (
            row.long_context
            if row.long_context is not None
            else tokens.prompt > 200_000
        )
        return {
            "source": self.source,
            "source_key": row.source_key,
            "tool": row.tool,
            "person_id": person_id,
            "identity_kind": row.identity_kind,
            "identity": row.identity.strip().lower()
            if row.identity_kind == "email"
            else row.identity,
            "occurred_at": row.occurred_at,
            "day": day,
            "model": row.model,
            "model_key": self.prices.canonical(row.model),
            "tier": row.tier,
            "long_context": long_context,
            "input_tokens": tokens.input,
            "cache_read_tokens": tokens.cache_read,
            "cache_write_5m_tokens": tokens.cache_write_5m,
            "cache_write_1h_tokens": tokens.cache_write_1h,
            "output_tokens": tokens.output,
            "requests": row.requests,
            "cost_micros": cost,
            "cost_origin": origin,
            "counted": counts(self.authority, tool=row.tool, source=self.source),
            "imported_at": self.imported_at,
        }

    async def _existing_keys(self, table, keys: Sequence[str]) -> dict[str, date]:
        """Stored keys among ``keys``, with the day each is stored under."""
        found: dict[str, date] = {}
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = keys[start : start + KEY_CHUNK]
            rows = await self.session.execute(
                select(table.source_key, table.day).where(
                    table.source == self.source, table.source_key.in_(chunk)
                )
            )
            found.update((key, day) for key, day in rows)
        return found

    async def add_usage(
        self, rows: Iterable[UsageRow], *, replace: bool = False
    ) -> None:
        """Store rows; with ``replace`` a stored key takes the new figures (buckets)."""
        records: dict[str, dict] = {}
        for row in rows:
            record = self._record(row)
            if record is None:
                continue
            if record["source_key"] in records:
                if replace:  # a bucket appears once per pull; twice means a bad answer
                    self.report.reject(row.location, "the same bucket appears twice")
                else:
                    self.report.duplicates += 1
                continue
            records[record["source_key"]] = record
        await self._write(UsageRecord, records, replace=replace)

    async def _write(self, table, records: dict[str, dict], *, replace: bool) -> None:
        if not records:
            return
        if not replace:
            await self._insert_new(table, list(records.values()))
            return
        existing = await self._existing_keys(table, list(records))
        self.report.replaced += len(existing)
        self.report.imported += len(records) - len(existing)
        self.days.update(existing.values())
        values = list(records.values())
        stmt = _dialect_insert(self.session, table)
        updates = {
            name: stmt.excluded[name]
            for name in values[0]
            if name not in ("source", "source_key")
        }
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "source_key"], set_=updates
        )
        self.days.update(rec["day"] for rec in values)
        self._count_new(
            table, [rec for rec in values if rec["source_key"] not in existing]
        )
        for start in range(0, len(values), KEY_CHUNK):
            await self.session.execute(stmt, values[start : start + KEY_CHUNK])

    async def _insert_new(self, table, values: list[dict]) -> None:
        """Insert rows whose key is not stored yet; the database says which went in.

        The chunk goes through a staging table (``usage.staging``). No look-up
        first: a look-up of thousands of keys is planned as a scan of a table
        that a large first import is still filling.
        """
        inserted = await self._staged(table, values[0]).insert_new(values)
        new = [rec for rec in values if rec["source_key"] in inserted]
        self.report.duplicates += len(values) - len(new)
        self.report.imported += len(new)
        self.days.update(rec["day"] for rec in new)
        self._count_new(table, new)

    def _staged(self, table, record: dict) -> StagedInsert:
        """The staging insert for ``table``, made on first use in this transaction."""
        if table not in self._staging:
            self._staging[table] = StagedInsert.for_session(
                self.session, table.__table__, list(record)
            )
        return self._staging[table]

    def _count_new(self, table, values: list[dict]) -> None:
        for rec in values:
            if rec["person_id"] is None:
                self.report.unattributed += 1
            if table is UsageRecord and rec["cost_micros"] is None:
                self.report.unpriced += 1
                self.report.unpriced_models[rec["model"]] += 1

    async def replace_window(self, start: date, end: date) -> None:
        """Forget this source's records for days in [start, end) before a re-pull."""
        for table in (UsageRecord, OutputRecord):
            days = await self.session.execute(
                select(table.day)
                .where(table.source == self.source, table.day >= start, table.day < end)
                .distinct()
            )
            self.days.update(days.scalars())
            deleted = await self.session.execute(
                delete(table).where(
                    table.source == self.source, table.day >= start, table.day < end
                )
            )
            self.report.replaced += deleted.rowcount or 0

    # -- output ------------------------------------------------------------

    async def add_output(
        self, rows: Iterable[OutputRow], *, replace: bool = True
    ) -> None:
        """Store output counts; a re-read key takes the new value."""
        records: dict[str, dict] = {}
        for row in rows:
            if row.value < 0:
                self.report.reject(row.location, f"negative {row.metric} count")
                continue
            if row.value > MAX_TOKENS or row.day > self.latest_day:
                self.report.reject(
                    row.location, f"{row.metric} count out of range or dated ahead"
                )
                continue
            person_id = self.attribution.person_for(row.identity_kind, row.identity)
            records[row.source_key] = {
                "source": self.source,
                "source_key": row.source_key,
                "person_id": person_id,
                "identity_kind": row.identity_kind,
                "identity": row.identity,
                "day": row.day,
                "metric": row.metric,
                "value": row.value,
            }
        await self._write(OutputRecord, records, replace=replace)

    # -- finishing ---------------------------------------------------------

    async def finish(self, *, now: datetime | None = None) -> None:
        """Rebuild rollups for touched days, note the source's coverage and the batch."""
        now = now or utcnow()
        self.days |= await settle_authority(self.session, self.authority)
        if self.days:
            await rebuild_days(self.session, self.days)
        state = await self.session.get(SourceState, self.source)
        if state is None:
            state = SourceState(source=self.source, rows_total=0)
            self.session.add(state)
        if self.days:
            low, high = min(self.days), max(self.days)
            state.covered_from = min(filter(None, (state.covered_from, low)))
            state.covered_to = max(filter(None, (state.covered_to, high)))
        state.last_success_at = now
        state.last_attempt_at = now
        state.last_error = None
        state.rows_total = (state.rows_total or 0) + self.report.imported
        report = self.report
        self.session.add(
            ImportBatch(
                source=self.source,
                origin=report.origin[:500],
                started_at=now,
                rows_read=report.rows_read,
                imported=report.imported,
                duplicates=report.duplicates,
                rejected=len(report.rejected),
                unpriced=report.unpriced,
                report=report.as_dict(),
            )
        )
        logger.info(
            "import %s: %d read, %d imported, %d duplicates, %d rejected",
            self.source,
            report.rows_read,
            report.imported,
            report.duplicates,
            len(report.rejected),
        )


async def record_source_error(
    session: AsyncSession, *, source: str, error: str, now: datetime | None = None
) -> None:
    """Note a failed pull so ``aispend sources`` and answers can show it."""
    now = now or utcnow()
    state = await session.get(SourceState, source)
    if state is None:
        state = SourceState(source=source, rows_total=0)
        session.add(state)
    state.last_attempt_at = now
    state.last_error = error[:2000]
