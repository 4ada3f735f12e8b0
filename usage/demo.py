"""``aispend demo``: a realistic demo organisation whose data ends yesterday.

Everything is drawn from one seeded generator in terms of days before the end
date, so two runs differ only in their dates. Costs are priced from tokens by
the price table in use, like any token-only source.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from usage.errors import UserError
from usage.models import OutputRecord, Person, Team, UsageRecord
from usage.pricing import PriceTable, Tokens
from usage.rollups import rebuild_all
from usage.settings import Settings
from usage.store import ImportReport, OutputRow, UsageRow, UsageWriter

SOURCE = "demo"
DOMAIN = "demo.example"
DAYS = 91
SEED = 20261204

TEAMS = (
    # name, parent, monthly budget (USD)
    ("engineering", None, 9000),
    ("platform", "engineering", 3000),
    ("mobile", "engineering", 2000),
    ("payments", "engineering", 1800),
    ("data", "engineering", 2200),
    ("design", None, 600),
)
FIRST = (
    "Ada",
    "Bo",
    "Cyd",
    "Dara",
    "Eli",
    "Fern",
    "Gio",
    "Hal",
    "Ines",
    "Jon",
    "Kai",
    "Lia",
    "Mo",
    "Nia",
    "Oli",
    "Pia",
    "Quin",
    "Ria",
    "Sol",
    "Tao",
    "Uma",
    "Vic",
    "Wes",
    "Xia",
    "Yan",
    "Zoe",
    "Ari",
    "Bea",
    "Cal",
    "Dev",
    "Ema",
    "Fox",
    "Gus",
    "Hep",
    "Ivo",
    "Jun",
)
LAST = (
    "Abara",
    "Berg",
    "Costa",
    "Dahl",
    "Eze",
    "Frank",
    "Gold",
    "Haas",
    "Ito",
    "Jain",
    "Kerr",
    "Lund",
    "Mora",
    "Nash",
    "Ortiz",
    "Park",
    "Quist",
    "Rossi",
    "Sato",
    "Toth",
    "Ueda",
    "Vance",
    "Wong",
    "Xu",
    "Yilmaz",
    "Zeller",
    "Amin",
    "Brook",
    "Cruz",
    "Diaz",
    "Eder",
    "Ford",
    "Garber",
    "Hale",
    "Iyer",
    "Juarez",
)
TIMEZONES = (
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "America/Los_Angeles",
    "Asia/Kolkata",
)
# tool, model, typical daily input tokens (uncached), cache read share, output share
MIXES = {
    "api-gateway": (
        ("claude-sonnet-4-5", 0.6),
        ("claude-haiku-4-5", 0.3),
        ("gpt-5-mini", 0.1),
    ),
    "claude-code": (("claude-sonnet-4-5", 0.75), ("claude-opus-4-5", 0.25)),
    "cursor": (("gpt-5", 0.5), ("claude-sonnet-4-5", 0.5)),
    "openai-api": (("gpt-5", 0.6), ("gpt-5-mini", 0.4)),
    "vertex-ai": (("gemini-2.5-pro", 0.7), ("gemini-2.5-flash", 0.3)),
}
TEAM_TOOLS = {
    "engineering": ("api-gateway", "openai-api"),
    "platform": ("claude-code", "api-gateway", "vertex-ai"),
    "mobile": ("cursor", "claude-code"),
    "payments": ("cursor", "api-gateway"),
    "data": ("vertex-ai", "openai-api", "api-gateway"),
    "design": ("cursor",),
}
TEAM_SIZES = {
    "engineering": 2,
    "platform": 8,
    "mobile": 7,
    "payments": 7,
    "data": 7,
    "design": 5,
}


@dataclass(frozen=True)
class DemoPerson:
    email: str
    name: str
    team: str
    role: str
    timezone: str
    intensity: float
    heavy_week: int | None  # weeks before the end in which they spent far more


def _people(rng: random.Random) -> list[DemoPerson]:
    people, index = [], 0
    for team, size in TEAM_SIZES.items():
        for position in range(size):
            first, last = FIRST[index % len(FIRST)], LAST[index % len(LAST)]
            index += 1
            role = "manager" if position == 0 else "member"
            if team == "engineering" and position == 1:
                role = "admin"
            people.append(
                DemoPerson(
                    email=f"{first.lower()}.{last.lower()}@{DOMAIN}",
                    name=f"{first} {last}",
                    team=team,
                    role=role,
                    timezone=rng.choice(TIMEZONES),
                    intensity=rng.lognormvariate(0, 0.6),
                    heavy_week=None,
                )
            )
    heavy = {"platform": 1, "mobile": 5}
    marked = []
    for person in people:
        if person.role == "member" and person.team in heavy:
            marked.append(
                DemoPerson(**{**person.__dict__, "heavy_week": heavy.pop(person.team)})
            )
        else:
            marked.append(person)
    marked.append(
        DemoPerson(
            f"ci-bot@{DOMAIN}", "CI Bot", "platform", "service", "UTC", 0.5, None
        )
    )
    return marked


async def _refuse_foreign_directory(session: AsyncSession) -> None:
    foreign = await session.execute(
        select(func.count())
        .select_from(Person)
        .where(Person.email.not_like(f"%@{DOMAIN}"))
    )
    if foreign.scalar():
        raise UserError(
            "this database already holds a directory; point DATABASE_URL at a new file "
            "(for example sqlite:///demo.db) to try the demo"
        )


async def _directory(
    session: AsyncSession, people: list[DemoPerson]
) -> dict[str, Person]:
    teams: dict[str, Team] = {}
    for name, _, budget in TEAMS:
        team = (
            await session.execute(select(Team).where(Team.name == name))
        ).scalar_one_or_none()
        teams[name] = team or Team(name=name)
        teams[name].monthly_budget_micros = budget * 1_000_000
        session.add(teams[name])
    await session.flush()
    managers = {p.team: p.email for p in people if p.role == "manager"}
    for name, parent, _ in TEAMS:
        teams[name].parent_id = teams[parent].id if parent else None
        teams[name].manager_email = managers.get(name)
    stored: dict[str, Person] = {}
    for index, spec in enumerate(people):
        person = (
            await session.execute(select(Person).where(Person.email == spec.email))
        ).scalar_one_or_none() or Person(email=spec.email)
        person.name, person.team_id, person.role = (
            spec.name,
            teams[spec.team].id,
            spec.role,
        )
        person.timezone, person.active = spec.timezone, True
        person.slack_user_id = None if spec.role == "service" else f"UDEMO{index:05d}"
        person.github_login = (
            None
            if spec.role == "service"
            else spec.email.split("@")[0].replace(".", "-")
        )
        session.add(person)
        stored[spec.email] = person
    await session.flush()
    parent_manager = {name: managers.get(parent) for name, parent, _ in TEAMS if parent}
    for spec in people:
        boss = (
            managers.get(spec.team)
            if spec.role != "manager"
            else parent_manager.get(spec.team)
        )
        stored[spec.email].manager_id = (
            stored[boss].id if boss and boss != spec.email else None
        )
    return stored


def _usage(
    rng: random.Random, people: list[DemoPerson], end: date, prices: PriceTable
) -> tuple[list[UsageRow], list[OutputRow]]:
    usage, output = [], []
    for person in people:
        tools = (
            TEAM_TOOLS[person.team] if person.role != "service" else ("api-gateway",)
        )
        for back in range(DAYS, 0, -1):
            day = end - timedelta(days=back)
            weekend = day.weekday() >= 5
            if rng.random() < (0.85 if weekend else 0.1):
                continue
            boost = (
                4.0
                if person.heavy_week is not None
                and (back - 1) // 7 == person.heavy_week - 1
                else 1.0
            )
            for tool in tools:
                for model, share in MIXES[tool]:
                    if rng.random() > share + 0.2:
                        continue
                    scale = person.intensity * boost * share * rng.uniform(0.4, 1.6)
                    base = int(1_200_000 * scale)
                    tokens = Tokens(
                        input=base,
                        cache_read=int(base * rng.uniform(1.5, 4)),
                        cache_write_5m=int(base * rng.uniform(0.05, 0.3)),
                        output=int(base * rng.uniform(0.05, 0.15)),
                    )
                    usage.append(
                        UsageRow(
                            source_key=f"{person.email}|{back}|{tool}|{model}",
                            identity=person.email,
                            tool=tool,
                            model=model,
                            day=day,
                            tokens=tokens,
                            requests=max(1, int(60 * scale)),
                            long_context=False,
                            location=f"day -{back}",
                        )
                    )
            if person.role != "service" and not weekend:
                output += _output(rng, person, day, back, tools)
    return usage, output


def _output(rng, person: DemoPerson, day: date, back: int, tools) -> list[OutputRow]:
    rows = []
    prs = sum(1 for _ in range(3) if rng.random() < 0.3)
    if prs:
        rows.append(
            OutputRow(
                f"{person.email}|{back}|prs", person.email, day, "prs_merged", prs
            )
        )
    if "claude-code" in tools:
        for metric, high in (
            ("claude_code_sessions", 5),
            ("claude_code_commits", 3),
            ("lines_added", 600),
        ):
            rows.append(
                OutputRow(
                    f"{person.email}|{back}|{metric}",
                    person.email,
                    day,
                    metric,
                    rng.randint(0, high),
                )
            )
    return rows


async def fill_demo(
    session: AsyncSession, *, end: date, settings: Settings, prices: PriceTable
) -> ImportReport:
    """Replace any earlier demo data with a fresh quarter ending the day before ``end``."""
    await _refuse_foreign_directory(session)
    rng = random.Random(SEED)
    people = _people(rng)
    await _directory(session, people)
    await session.execute(delete(UsageRecord).where(UsageRecord.source == SOURCE))
    await session.execute(delete(OutputRecord).where(OutputRecord.source == SOURCE))
    usage, output = _usage(rng, people, end, prices)
    report = ImportReport(
        source=SOURCE, origin=f"demo organisation ending {end - timedelta(days=1)}"
    )
    report.rows_read = len(usage) + len(output)
    writer = await UsageWriter.open(
        session, source=SOURCE, settings=settings, prices=prices, report=report
    )
    await writer.add_usage(usage, replace=True)
    await writer.add_output(output)
    await writer.finish()
    await rebuild_all(session)
    return report
