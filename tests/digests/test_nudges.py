import re
from datetime import UTC, date, datetime

from sqlalchemy import select

from digests import nudges
from tests.blockkit import all_text, assert_valid_message
from tests.conftest import NORTHWIND
from tests.northwind import load_northwind
from usage import ledger
from usage.directory import person_by_email
from usage.models import Person, PersonPrefs
from usage.periods import iso_week
from usage.pricing import load_price_table
from usage.settings import load_settings, store_setting

W48 = iso_week("2026-W48")
TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RANK_WORDS = re.compile(r"\b(top|rank\w*|leaderboard|percentile|most|least)\b", re.I)


async def scan(db, *, load: bool = True):
    if load:
        await load_northwind(db)
    async with db.sessions() as session:
        settings = await load_settings(session)
        return await nudges.find_nudges(
            session,
            period=W48,
            today=TODAY,
            settings=settings,
            prices=load_price_table(NORTHWIND / "prices.json"),
            now=NOW,
        )


async def names(db) -> list[str]:
    async with db.sessions() as session:
        people = (await session.execute(select(Person))).scalars()
        return [p.name for p in people]


async def test_heavy_weeks_get_a_private_nudge_naming_nobody_else(db):
    result = await scan(db)
    everyone = await names(db)

    by_email = {n.person.email: n for n in result.nudges}
    for email, first in (
        ("ben.kowalski@northwind.test", "Ben"),
        ("farah.haddad@northwind.test", "Farah"),
    ):
        message = nudges.render_nudge(by_email[email], ledger_id=7)
        text = all_text(message)
        assert f"Hi {first}," in text
        assert "your usual" in text
        assert "merged PRs" in text
        others = [n for n in everyone if not n.startswith(first)]
        assert not [n for n in others if n in text or n.split()[0] in text]
        assert not RANK_WORDS.search(text)
        labels = [e["text"]["text"] for e in message.blocks[-1]["elements"]]
        assert labels == [
            "Thanks",
            "Snooze 2 weeks",
            "Why am I getting this?",
            "Stop these",
        ]
        assert_valid_message(message)
    assert "ci-bot@northwind.test" not in by_email


async def test_opted_out_snoozed_and_excluded_people_get_nothing(db):
    await load_northwind(db)
    async with db.sessions() as session, session.begin():
        ben = await person_by_email(session, "ben.kowalski@northwind.test")
        farah = await person_by_email(session, "farah.haddad@northwind.test")
        session.add(PersonPrefs(person_id=ben.id, nudges_opt_out=True))
        session.add(PersonPrefs(person_id=farah.id, snoozed_until=date(2026, 12, 10)))
        await store_setting(
            session, key="excluded.emails", value=["ana.ruiz@northwind.test"], actor="t"
        )
    result = await scan(db, load=False)

    emails = {n.person.email for n in result.nudges}
    assert not emails & {
        "ben.kowalski@northwind.test",
        "farah.haddad@northwind.test",
        "ana.ruiz@northwind.test",
    }
    assert result.held_back == {"opted out": 1, "snoozed": 1, "excluded by admins": 1}


async def test_a_nudge_in_quiet_hours_waits_until_they_end(db):
    await load_northwind(db)
    async with db.sessions() as session, session.begin():
        ben = await person_by_email(session, "ben.kowalski@northwind.test")
        # 12:00 UTC is 06:00 in Chicago
        session.add(
            PersonPrefs(person_id=ben.id, quiet_start="20:00", quiet_end="08:00")
        )

    result = await scan(db, load=False)

    ben_nudge = next(n for n in result.nudges if n.person.email.startswith("ben."))
    assert ben_nudge.not_before == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


async def test_nudges_are_planned_once_per_person_and_week(db):
    result = await scan(db)

    async with db.sessions() as session, session.begin():
        first = await nudges.plan_nudges(session, result, now=NOW)
        second = await nudges.plan_nudges(session, result, now=NOW)

    assert first == len(result.nudges) and second == 0


async def test_buttons_update_the_note_and_are_recorded(db):
    result = await scan(db)
    async with db.sessions() as session, session.begin():
        await nudges.plan_nudges(session, result, now=NOW)
        entry = await ledger.entry_for(
            session,
            kind="nudge",
            recipient="ben.kowalski@northwind.test",
            period="2026-W48",
        )
        value = entry.detail["message"]["blocks"][-1]["elements"][0]["value"]

    async with db.sessions() as session, session.begin():
        why = await nudges.handle_response(
            session, ledger_id=int(value), action="why", today=TODAY, now=NOW
        )
    async with db.sessions() as session, session.begin():
        snoozed = await nudges.handle_response(
            session, ledger_id=entry.id, action="snooze", today=TODAY, now=NOW
        )
    async with db.sessions() as session, session.begin():
        await nudges.handle_response(
            session, ledger_id=entry.id, action="thanks", today=TODAY, now=NOW
        )
        ben = await person_by_email(session, "ben.kowalski@northwind.test")
        prefs = await session.get(PersonPrefs, ben.id)
        stored = await ledger.entry_for(
            session,
            kind="nudge",
            recipient="ben.kowalski@northwind.test",
            period="2026-W48",
        )
        feedback = await nudges.nudge_feedback(session)

    assert "Why you got this" in all_text(why)
    assert why.blocks[-1]["type"] == "actions"
    assert "Snoozed: no spend notes until Dec 14, 2026" in all_text(snoozed)
    assert all(b["type"] != "actions" for b in snoozed.blocks)
    assert prefs.snoozed_until == date(2026, 12, 14)
    assert stored.response == "thanks"
    assert feedback["answered"] == 0  # nothing was sent yet, so nothing counts
    assert_valid_message(why)
