"""The people directory: import from CSV, and look people and teams up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from usage import revisions
from usage.errors import ImportFileError, UserError
from usage.models import Identity, OutputRecord, Person, Team, UsageRecord
from usage.rollups import rebuild_days, rebuild_teams
from usage.sources.tabular import (
    BadValue,
    Table,
    iter_blank,
    parse_decimal,
    read_table,
    resolve_columns,
)
from usage.store import ImportReport

logger = logging.getLogger(__name__)

ROLES = ("member", "manager", "admin", "service")
PEOPLE_COLUMNS = {
    "email": ("email", "user_email", "email_address"),
    "name": ("name", "full_name", "display_name"),
    "team": ("team", "team_name"),
    "manager_email": ("manager_email", "manager"),
    "slack_user_id": ("slack_user_id", "slack_id", "slack"),
    "github": ("github", "github_login", "github_user"),
    "timezone": ("timezone", "time_zone", "tz"),
    "role": ("role",),
}
TEAM_COLUMNS = {
    "team": ("team", "name", "team_name"),
    "parent": ("parent", "parent_team"),
    "manager_email": ("manager_email", "manager"),
    "budget": ("monthly_budget_usd", "monthly_budget", "budget_usd", "budget"),
    "timezone": ("timezone", "time_zone", "tz"),
}


@dataclass
class DirectoryReport(ImportReport):
    teams: int = 0
    people: int = 0
    deactivated: list[str] = field(default_factory=list)
    reattributed: int = 0

    def lines(self) -> list[str]:
        lines = [
            f"directory import from {self.origin}",
            f"  teams:               {self.teams}",
            f"  people:              {self.people}",
            f"  rejected:            {len(self.rejected)}",
        ]
        if self.deactivated:
            lines.append(
                f"  marked inactive (not in the file): {', '.join(sorted(self.deactivated))}"
            )
        if self.reattributed:
            lines.append(f"  usage rows now attributed: {self.reattributed}")
        lines += [f"  rejected {where}: {why}" for where, why in self.rejected]
        lines += [f"  note {where}: {what}" for where, what in self.flagged]
        return lines


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadValue(
            f"time zone {name!r} is not an IANA name like Europe/Paris"
        ) from exc
    return name


def _cell(cells: dict[str, str], columns: dict[str, str], name: str) -> str:
    column = columns.get(name)
    return (cells.get(column) or "").strip() if column else ""


async def import_directory(
    session: AsyncSession, *, people_path: Path, teams_path: Path | None
) -> DirectoryReport:
    """Load teams and people; the file is the whole directory (absent people go inactive)."""
    people_table = read_table(people_path)
    teams_table = read_table(teams_path) if teams_path else None
    report = DirectoryReport(source="directory", origin=people_table.origin)
    teams = await _upsert_teams(session, teams_table, people_table, report)
    await _upsert_people(session, people_table, teams, report)
    await _reattribute(session, report)
    await rebuild_teams(session)
    return report


async def _upsert_teams(
    session: AsyncSession, table: Table | None, people: Table, report: DirectoryReport
) -> dict[str, Team]:
    existing = {t.name: t for t in (await session.execute(select(Team))).scalars()}
    specs: dict[str, dict] = {}
    if table is not None:
        columns = resolve_columns(table, TEAM_COLUMNS)
        if "team" not in columns:
            raise ImportFileError(f"{table.origin}: no team column")
        for line, cells in table.rows:
            if iter_blank(cells):
                continue
            spec = _team_spec(cells, columns, line, table.origin, report)
            if spec is None:
                continue
            if spec["name"] in specs:
                report.reject(
                    f"{table.origin} line {line}",
                    f"team {spec['name']!r} appears twice",
                )
                continue
            specs[spec["name"]] = spec
    people_columns = resolve_columns(people, PEOPLE_COLUMNS)
    for _, cells in people.rows:
        name = _cell(cells, people_columns, "team")
        if name and name not in specs and name not in existing:
            specs[name] = {
                "name": name,
                "parent": "",
                "manager": None,
                "budget": None,
                "tz": None,
            }
    for spec in specs.values():
        if (
            spec["parent"]
            and spec["parent"] not in specs
            and spec["parent"] not in existing
        ):
            raise ImportFileError(
                f"team {spec['name']!r} has unknown parent {spec['parent']!r}"
            )
    for name, spec in specs.items():
        team = existing.get(name)
        if team is None:
            team = Team(name=name)
            session.add(team)
            existing[name] = team
        team.manager_email = spec["manager"]
        team.monthly_budget_micros = spec["budget"]
        team.timezone = spec["tz"]
    await session.flush()
    for name, spec in specs.items():
        parent = existing.get(spec["parent"]) if spec["parent"] else None
        existing[name].parent_id = parent.id if parent else None
    _check_cycles(existing)
    report.teams = len(specs)
    return existing


def _team_spec(cells, columns, line, origin, report) -> dict | None:
    where = f"{origin} line {line}"
    name = _cell(cells, columns, "team")
    if not name:
        report.reject(where, "no team name")
        return None
    try:
        budget = parse_decimal(_cell(cells, columns, "budget"))
        tz = (
            _zone(_cell(cells, columns, "timezone"))
            if _cell(cells, columns, "timezone")
            else None
        )
    except BadValue as exc:
        report.reject(where, str(exc))
        return None
    if budget is not None and budget < 0:
        report.reject(where, "a budget cannot be negative")
        return None
    return {
        "name": name,
        "parent": _cell(cells, columns, "parent"),
        "manager": _cell(cells, columns, "manager_email").lower() or None,
        "budget": int(budget * 1_000_000) if budget is not None else None,
        "tz": tz,
    }


def _check_cycles(teams: dict[str, Team]) -> None:
    by_id = {t.id: t for t in teams.values()}
    for team in teams.values():
        seen = set()
        node = team
        while node.parent_id is not None:
            if node.id in seen:
                raise ImportFileError(f"the team tree loops through {team.name!r}")
            seen.add(node.id)
            node = by_id[node.parent_id]


async def _upsert_people(
    session: AsyncSession, table: Table, teams: dict[str, Team], report: DirectoryReport
) -> None:
    columns = resolve_columns(table, PEOPLE_COLUMNS)
    if "email" not in columns:
        raise ImportFileError(f"{table.origin}: no email column")
    existing = {p.email: p for p in (await session.execute(select(Person))).scalars()}
    specs: dict[str, dict] = {}
    for line, cells in table.rows:
        if iter_blank(cells):
            continue
        where = f"line {line}"
        try:
            spec = _person_spec(cells, columns)
        except BadValue as exc:
            report.reject(where, str(exc))
            continue
        if spec["email"] in specs:
            report.reject(where, f"{spec['email']} appears twice (emails ignore case)")
            continue
        specs[spec["email"]] = spec
    if not specs:  # the file is the whole directory: an empty one would retire everyone
        raise ImportFileError(
            f"{table.origin}: no one in it could be read; nothing changed"
        )
    for email, spec in specs.items():
        person = existing.get(email)
        if person is None:
            person = Person(email=email)
            session.add(person)
            existing[email] = person
        person.name = spec["name"] or email.split("@")[0]
        person.team_id = teams[spec["team"]].id if spec["team"] else None
        person.slack_user_id = spec["slack"] or None
        person.github_login = spec["github"] or None
        person.timezone = spec["tz"] or "UTC"
        person.role = spec["role"]
        person.active = True
    await session.flush()
    for email, spec in specs.items():
        manager = existing.get(spec["manager"]) if spec["manager"] else None
        if spec["manager"] and manager is None:
            report.flag(email, f"manager {spec['manager']} is not in the directory")
        existing[email].manager_id = manager.id if manager else None
    for email, person in existing.items():
        if email not in specs and person.active:
            person.active = False
            report.deactivated.append(email)
    report.people = len(specs)


def _person_spec(cells, columns) -> dict:
    email = _cell(cells, columns, "email").lower()
    if "@" not in email:
        raise BadValue(f"{email or '(blank)'} is not an email address")
    role = (_cell(cells, columns, "role") or "member").lower()
    if role not in ROLES:
        raise BadValue(f"role {role!r} is not one of {', '.join(ROLES)}")
    tz = _cell(cells, columns, "timezone")
    return {
        "email": email,
        "name": _cell(cells, columns, "name"),
        "team": _cell(cells, columns, "team"),
        "manager": _cell(cells, columns, "manager_email").lower(),
        "slack": _cell(cells, columns, "slack_user_id"),
        "github": _cell(cells, columns, "github").lower(),
        "tz": _zone(tz) if tz else "",
        "role": role,
    }


async def _reattribute(session: AsyncSession, report: DirectoryReport) -> None:
    """Give usage kept as unattributed to people who are now in the directory."""
    people = (
        await session.execute(select(Person.id, Person.email, Person.github_login))
    ).all()
    owners = {("email", email): pid for pid, email, _ in people}
    owners |= {("github", gh.lower()): pid for pid, _, gh in people if gh}
    owners |= await _vendor_identities(session, owners)
    days = set()
    for table in (UsageRecord, OutputRecord):
        pending = await session.execute(
            select(table.identity_kind, table.identity, table.day)
            .where(table.person_id.is_(None))
            .distinct()
        )
        matches: dict[tuple[str, str], int] = {}
        for kind, identity, day in pending:
            owner = owners.get((kind, identity.lower()))
            if owner is not None:
                matches[(kind, identity)] = owner
                days.add(day)
        for (kind, identity), owner in matches.items():
            result = await session.execute(
                update(table)
                .where(
                    table.person_id.is_(None),
                    table.identity_kind == kind,
                    table.identity == identity,
                )
                .values(person_id=owner)
            )
            report.reattributed += result.rowcount or 0
    if days:
        await rebuild_days(session, days)


async def _vendor_identities(
    session: AsyncSession, owners: dict[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    """Vendor ids and keys whose email now belongs to a person, linked to them."""
    found: dict[tuple[str, str], int] = {}
    rows = await session.execute(
        select(Identity.id, Identity.kind, Identity.value, Identity.email)
    )
    for identity_id, kind, value, email in rows:
        owner = owners.get(("email", (email or "").strip().lower()))
        if owner is None:
            continue
        found[(kind, value.lower())] = owner
        await session.execute(
            update(Identity).where(Identity.id == identity_id).values(person_id=owner)
        )
    return found


# -- look-ups ---------------------------------------------------------------


async def person_by_email(session: AsyncSession, email: str) -> Person | None:
    found = await session.execute(
        select(Person).where(Person.email == email.strip().lower())
    )
    return found.scalar_one_or_none()


async def person_by_slack_id(
    session: AsyncSession, slack_user_id: str
) -> Person | None:
    found = await session.execute(
        select(Person).where(Person.slack_user_id == slack_user_id)
    )
    return found.scalars().first()


async def require_person(session: AsyncSession, email: str) -> Person:
    person = await person_by_email(session, email)
    if person is None:
        raise UserError(
            f"{email} is not in the directory; import it with `aispend people import`"
        )
    return person


@dataclass(frozen=True)
class TeamInfo:
    """A team as the tree holds it: read once, shared between questions."""

    id: int
    name: str
    parent_id: int | None
    manager_email: str | None
    monthly_budget_micros: int | None
    timezone: str | None


@dataclass(frozen=True)
class TeamTree:
    """All teams, with parent and children links, loaded at once (teams are few).

    A process keeps the tree until the directory's revision changes, so the
    tree and everything in it are shared and never changed by their users.
    """

    teams: dict[int, TeamInfo]
    children: dict[int, tuple[int, ...]]
    members: dict[int, int] = field(default_factory=dict)  # active direct members

    @classmethod
    async def load(cls, session: AsyncSession) -> TeamTree:
        return await revisions.kept(session, "directory", cls._read)

    @classmethod
    async def _read(cls, session: AsyncSession) -> TeamTree:
        rows = await session.execute(
            select(
                Team.id,
                Team.name,
                Team.parent_id,
                Team.manager_email,
                Team.monthly_budget_micros,
                Team.timezone,
            )
        )
        teams = {row.id: TeamInfo(*row) for row in rows}
        children: dict[int, list[int]] = {tid: [] for tid in teams}
        for team in teams.values():
            if team.parent_id in children:
                children[team.parent_id].append(team.id)
        counts = await session.execute(
            select(Person.team_id, func.count())
            .where(Person.active, Person.team_id.is_not(None))
            .group_by(Person.team_id)
        )
        return cls(
            teams,
            {
                tid: tuple(sorted(ids, key=lambda t: teams[t].name.lower()))
                for tid, ids in children.items()
            },
            {team_id: count for team_id, count in counts},
        )

    def size(self, team_id: int) -> int:
        """Active people in the team and all teams below it."""
        return sum(self.members.get(tid, 0) for tid in self.subtree(team_id))

    def by_name(self, name: str) -> Team | None:
        wanted = name.strip().lower().lstrip("#")
        for team in self.teams.values():
            if team.name.lower() == wanted:
                return team
        return None

    def subtree(self, team_id: int) -> list[int]:
        """The team and all teams below it."""
        found, stack = [], [team_id]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(self.children.get(current, []))
        return found

    def ancestors(self, team_id: int) -> list[int]:
        """Teams above ``team_id``, nearest first."""
        chain, seen = [], {team_id}
        node = self.teams.get(team_id)
        while (
            node is not None
            and node.parent_id is not None
            and node.parent_id not in seen
        ):
            chain.append(node.parent_id)
            seen.add(node.parent_id)
            node = self.teams.get(node.parent_id)
        return chain

    def roots(self) -> list[Team]:
        return sorted(
            (t for t in self.teams.values() if t.parent_id is None),
            key=lambda t: t.name.lower(),
        )

    def managed_by(self, email: str) -> list[Team]:
        return sorted(
            (t for t in self.teams.values() if t.manager_email == email.lower()),
            key=lambda t: t.name.lower(),
        )


async def manager_chain(session: AsyncSession, person: Person) -> list[Person]:
    """The person's managers, nearest first (from ``manager_email`` links)."""
    chain: list[Person] = []
    seen = {person.id}
    current = person
    while current.manager_id is not None and current.manager_id not in seen:
        manager = await session.get(Person, current.manager_id)
        if manager is None:
            break
        chain.append(manager)
        seen.add(manager.id)
        current = manager
    return chain


def budget_usd(team: Team) -> Decimal | None:
    if team.monthly_budget_micros is None:
        return None
    return Decimal(team.monthly_budget_micros) / Decimal(1_000_000)
