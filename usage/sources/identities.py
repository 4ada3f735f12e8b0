"""Vendor identities (user ids, API keys) remembered with the email they belong to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from usage.errors import ConfigError
from usage.models import Identity, Person
from usage.settings import Settings


@dataclass(frozen=True)
class IdentityFact:
    kind: str
    value: str
    email: str | None
    label: str | None = None


def key_map(settings: Settings, source: str) -> dict[str, str]:
    """``[sources.<source>.key_map]``: key id or key name -> the person's email."""
    raw = settings.get(f"sources.{source}.key_map", {}) or {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(value, str) and "@" in value for value in raw.values()
    ):
        raise ConfigError(
            f"sources.{source}.key_map must map key ids or names to emails, "
            'such as apikey_x = "person@example.com"'
        )
    return {str(key): value.strip().lower() for key, value in raw.items()}


async def remember(session: AsyncSession, facts: Iterable[IdentityFact]) -> int:
    """Store or update identities; each is linked to the person with its email."""
    rows = {(fact.kind, fact.value): fact for fact in facts if fact.value}
    if not rows:
        return 0
    people = dict((await session.execute(select(Person.email, Person.id))).all())
    values = [
        {
            "kind": fact.kind,
            "value": fact.value,
            "email": fact.email,
            "label": (fact.label or None) and fact.label[:200],
            "person_id": people.get(fact.email) if fact.email else None,
        }
        for fact in rows.values()
    ]
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(Identity)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "value"],
        set_={name: stmt.excluded[name] for name in ("email", "label", "person_id")},
    )
    await session.execute(stmt, values)
    return len(values)
