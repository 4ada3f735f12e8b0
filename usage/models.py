"""Tables of the usage database.

Money is integer micro-dollars. Instants are UTC. ``day`` columns are calendar
days in the organisation's reporting time zone (vendor daily buckets keep the
UTC date they were billed under).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """An aware UTC instant on every backend.

    SQLite keeps no offsets, so values are converted to UTC before they are
    written and UTC is attached again when they are read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC instant is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    manager_email: Mapped[str | None] = mapped_column(String(320))
    monthly_budget_micros: Mapped[int | None] = mapped_column(BigInteger)
    timezone: Mapped[str | None] = mapped_column(String(64))


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower case
    name: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    slack_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    github_login: Mapped[str | None] = mapped_column(String(100), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    role: Mapped[str] = mapped_column(String(20), default="member")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Identity(Base):
    """A usage identity (vendor user id, API key, login) that belongs to a person."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(320))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    email: Mapped[str | None] = mapped_column(String(320))
    label: Mapped[str | None] = mapped_column(String(200))


class UsageRecord(Base):
    """One request, or one vendor bucket, as the source gave it, priced."""

    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("source", "source_key"),
        Index("ix_usage_records_day", "day"),
        Index(
            "ix_usage_records_unattributed", "person_id", "identity_kind", "identity"
        ),
        Index("ix_usage_records_tool", "tool", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    source_key: Mapped[str] = mapped_column(String(300))
    tool: Mapped[str] = mapped_column(String(60))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    identity_kind: Mapped[str] = mapped_column(String(40))
    identity: Mapped[str] = mapped_column(String(320))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    day: Mapped[date] = mapped_column(Date)
    model: Mapped[str] = mapped_column(String(200))
    model_key: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(20), default="standard")
    long_context: Mapped[bool] = mapped_column(Boolean, default=False)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_5m_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_1h_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    requests: Mapped[int] = mapped_column(BigInteger, default=1)
    cost_micros: Mapped[int | None] = mapped_column(BigInteger)  # None: unpriced
    cost_origin: Mapped[str] = mapped_column(String(12))  # source|computed|unpriced
    # False when another source is authoritative for this tool's cost
    # (``[tools.authoritative]``): kept for reconciliation, left out of rollups.
    counted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutputRecord(Base):
    """A count of work that went with the spend (merged PRs, commits, sessions)."""

    __tablename__ = "output_records"
    __table_args__ = (
        UniqueConstraint("source", "source_key"),
        Index("ix_output_records_day", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    source_key: Mapped[str] = mapped_column(String(300))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    identity_kind: Mapped[str] = mapped_column(String(40))
    identity: Mapped[str] = mapped_column(String(320))
    day: Mapped[date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(40))
    value: Mapped[int] = mapped_column(BigInteger)


class SpendRollup(Base):
    """Daily spend per scope: ``person``, ``team`` (direct members), ``org``, ``unattributed``."""

    __tablename__ = "spend_rollups"

    scope_kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tool: Mapped[str] = mapped_column(String(60), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    long_context_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    unpriced_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    unpriced_requests: Mapped[int] = mapped_column(BigInteger, default=0)


class OutputRollup(Base):
    """Daily output counts per scope, like :class:`SpendRollup`."""

    __tablename__ = "output_rollups"

    scope_kind: Mapped[str] = mapped_column(String(12), primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class BilledCost(Base):
    """What a vendor's cost report bills per day and scope, for reconciliation."""

    __tablename__ = "billed_costs"
    __table_args__ = (UniqueConstraint("source", "day", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    tool: Mapped[str] = mapped_column(String(60))
    day: Mapped[date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(200))  # workspace, project, line item
    cost_micros: Mapped[int] = mapped_column(BigInteger)


class SourceState(Base):
    """Per-source cursor, coverage and last result, so freshness can be shown."""

    __tablename__ = "source_states"

    source: Mapped[str] = mapped_column(String(60), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    covered_from: Mapped[date | None] = mapped_column(Date)
    covered_to: Mapped[date | None] = mapped_column(Date)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    rows_total: Mapped[int] = mapped_column(BigInteger, default=0)


class ImportBatch(Base):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(60))
    origin: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    unpriced: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict] = mapped_column(JSON, default=dict)


class Setting(Base):
    """An admin-set value that overrides the settings file."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(320))


class Revision(Base):
    """A value that changes whenever a group of tables does, so that a process
    can keep what it read from them until they change (see usage/revisions.py).

    Database triggers set a new random value on every write to the tables of
    the group, so that a rolled-back write never leaves a value to be reused.
    """

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


REVISED_TABLES = {"directory": ("teams", "people"), "settings": ("settings",)}


def revision_ddl(dialect: str) -> list[str]:
    """Statements that create the revision rows and the triggers that change them."""
    statements = [
        f"INSERT INTO revisions (name, value) VALUES ('{name}', 0)"
        for name in REVISED_TABLES
    ]
    if dialect == "postgresql":
        # Before each statement, so the revision row is the first lock a writer of
        # these tables takes: two writers queue on it instead of deadlocking.
        statements.append(
            "CREATE OR REPLACE FUNCTION bump_revision() RETURNS trigger "
            "LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN "
            "UPDATE revisions SET value = floor(random() * 9007199254740991)::bigint "
            "WHERE name = TG_ARGV[0]; RETURN NULL; END $$"
        )
        statements += [
            f"CREATE TRIGGER bump_{name}_{table} BEFORE INSERT OR UPDATE OR DELETE "
            f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION bump_revision('{name}')"
            for name, tables in REVISED_TABLES.items()
            for table in tables
        ]
    else:  # SQLite: row triggers; its writers are one at a time anyway
        statements += [
            f"CREATE TRIGGER bump_{name}_{table}_{action.lower()} AFTER {action} "
            f"ON {table} BEGIN UPDATE revisions SET value = abs(random()) "
            f"WHERE name = '{name}'; END"
            for name, tables in REVISED_TABLES.items()
            for table in tables
            for action in ("INSERT", "UPDATE", "DELETE")
        ]
    return statements


@event.listens_for(Base.metadata, "after_create")
def _install_revision_triggers(target, connection, tables=(), **_kw) -> None:
    """Where ``create_all`` made the revisions table, add its rows and triggers."""
    if any(table.name == "revisions" for table in tables):
        for statement in revision_ddl(connection.dialect.name):
            connection.execute(DDL(statement))


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class PersonPrefs(Base):
    """A person's own choices: opt-outs, snooze, digest time, quiet hours."""

    __tablename__ = "person_prefs"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    nudges_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    digest_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    digest_weekday: Mapped[str | None] = mapped_column(String(3))  # mon..sun
    digest_time: Mapped[str | None] = mapped_column(String(5))  # HH:MM local
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SlackUser(Base):
    """What Slack said about a person's address (positive and negative lookups)."""

    __tablename__ = "slack_users"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # ok|not_found|deleted|bot
    looked_up_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(Base):
    """One intended outbound message, unique per (kind, recipient, period)."""

    __tablename__ = "notification_ledger"
    __table_args__ = (
        UniqueConstraint("kind", "recipient", "period"),
        Index("ix_notification_ledger_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320))
    period: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(
        String(12)
    )  # pending|claimed|sent|skipped|failed
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    channel: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    response: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Lease(Base):
    """A named lease so that one process runs the scheduler."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProcessedEvent(Base):
    """Slack event ids already handled, so redeliveries do nothing."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
