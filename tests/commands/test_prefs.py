import pytest
from sqlalchemy import select, text

from commands import answer, to_plain_text
from tests.northwind import TODAY, load_directory, person
from usage import prefs as prefs_module
from usage.models import AuditEntry, PersonPrefs
from usage.prefs import Prefs, load_prefs, parse_clock


async def ask(db, email, text):
    asker = await person(db.sessions, email)
    async with db.sessions() as session:
        return await answer(session, asker=asker, text=text, today=TODAY)


async def prefs_of(db, email):
    target = await person(db.sessions, email)
    async with db.sessions() as session:
        return await load_prefs(session, target.id)


async def test_optout_nudges_is_saved_audited_and_confirmed(db):
    await load_directory(db)

    reply = await ask(db, "ana.ruiz@northwind.test", "optout nudges")

    assert "no more spend nudges" in reply.text
    assert (await prefs_of(db, "ana.ruiz@northwind.test")).nudges_opt_out is True
    async with db.sessions() as session:
        entry = (await session.execute(select(AuditEntry))).scalar_one()
    assert entry.actor == "ana.ruiz@northwind.test"
    assert entry.detail["changes"] == {"nudges_opt_out": True}


async def test_optin_after_optout_turns_nudges_back_on(db):
    await load_directory(db)
    await ask(db, "ana.ruiz@northwind.test", "optout nudges")

    reply = await ask(db, "ana.ruiz@northwind.test", "optin nudges")

    assert "again" in reply.text
    assert (await prefs_of(db, "ana.ruiz@northwind.test")).nudges_opt_out is False


async def test_digest_optout_is_only_for_managers(db):
    await load_directory(db)

    member = await ask(db, "ana.ruiz@northwind.test", "optout digest")
    manager = await ask(db, "maria.garcia@northwind.test", "optout digest")

    assert "managers only" in to_plain_text(member)
    assert (await prefs_of(db, "ana.ruiz@northwind.test")).digest_opt_out is False
    assert (await prefs_of(db, "maria.garcia@northwind.test")).digest_opt_out is True
    assert "weekly team digest" in manager.text


@pytest.mark.parametrize(
    ("words", "days"),
    [("7 days", 7), ("1 day", 1), ("2 weeks", 14), ("10d", 10), ("3", 3)],
)
async def test_snooze_pauses_nudges_until_a_resume_day(db, words, days):
    await load_directory(db)

    reply = await ask(db, "ben.kowalski@northwind.test", f"snooze {words}")

    saved = await prefs_of(db, "ben.kowalski@northwind.test")
    assert (saved.snoozed_until - TODAY).days == days
    assert saved.nudges_allowed(TODAY) is False
    assert saved.nudges_allowed(saved.snoozed_until) is True
    assert "resume on" in reply.text


async def test_snooze_off_clears_the_snooze(db):
    await load_directory(db)
    await ask(db, "ben.kowalski@northwind.test", "snooze 5 days")

    await ask(db, "ben.kowalski@northwind.test", "snooze off")

    assert (await prefs_of(db, "ben.kowalski@northwind.test")).snoozed_until is None


@pytest.mark.parametrize(
    "words", ["forever", "-3 days", "5 fortnights", "400 days", ""]
)
async def test_bad_snooze_gets_a_friendly_answer_and_saves_nothing(db, words):
    await load_directory(db)

    reply = await ask(db, "ben.kowalski@northwind.test", f"snooze {words}")

    assert "snooze" in to_plain_text(reply)
    assert "went wrong" not in reply.text
    async with db.sessions() as session:
        assert (await session.execute(select(PersonPrefs))).first() is None


async def test_settings_prints_the_current_choices(db):
    await load_directory(db)
    await ask(db, "maria.garcia@northwind.test", "snooze 3 days")

    reply = to_plain_text(await ask(db, "maria.garcia@northwind.test", "settings"))

    assert "Spend nudges: snoozed; they resume on Sun Nov 22" in reply
    assert "Weekly team digest: Mondays at 09:00" in reply
    assert "Quiet hours: none set" in reply


async def test_members_settings_do_not_mention_a_digest(db):
    await load_directory(db)

    reply = to_plain_text(await ask(db, "ana.ruiz@northwind.test", "settings"))

    assert "Spend nudges: on" in reply
    assert "digest" not in reply.lower().split("change them")[0]


def test_quiet_hours_may_wrap_midnight():
    night = Prefs(quiet_start="22:00", quiet_end="07:00")
    lunch = Prefs(quiet_start="12:00", quiet_end="13:00")

    assert night.in_quiet_hours(parse_clock("23:30"))
    assert night.in_quiet_hours(parse_clock("06:59"))
    assert not night.in_quiet_hours(parse_clock("07:00"))
    assert lunch.in_quiet_hours(parse_clock("12:30"))
    assert not lunch.in_quiet_hours(parse_clock("13:00"))
    assert not Prefs().in_quiet_hours(parse_clock("03:00"))


async def test_optout_while_an_import_holds_the_write_lock_says_not_saved(
    sqlite_db, monkeypatch
):
    """A long import keeps SQLite's write lock while someone opts out: they are
    told plainly that nothing was saved, and a retry afterwards is saved."""
    db = sqlite_db
    await load_directory(db)
    monkeypatch.setattr(prefs_module, "LOCK_WAIT_MS", 100)
    importer = await db.engine.connect()
    await importer.exec_driver_sql("BEGIN IMMEDIATE")
    await importer.execute(text("UPDATE teams SET timezone = timezone"))

    refused = await ask(db, "ana.ruiz@northwind.test", "optout nudges")
    await importer.rollback()
    await importer.close()
    retried = await ask(db, "ana.ruiz@northwind.test", "optout nudges")

    assert "not saved" in refused.text
    assert "try again" in refused.text
    assert "no more spend nudges" in retried.text
    assert (await prefs_of(db, "ana.ruiz@northwind.test")).nudges_opt_out is True
