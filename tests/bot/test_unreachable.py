"""People Slack cannot reach are skipped with their reason and shown to admins;
Slack users are matched to the directory whatever the case of their email."""

from sqlalchemy import update

from bot.delivery import Deliverer
from bot.people import person_for_slack_user
from bot.slack_client import SlackClient
from commands import answer, to_plain_text
from tests.fakes.clock import FakeClock
from tests.fakes.slack import VALID_TOKEN
from tests.northwind import TODAY, load_directory, person
from usage import ledger
from usage.models import Person, SlackUser

ACTIVE = "ana.ruiz@northwind.test"
DEACTIVATED = "ben.kowalski@northwind.test"
BOT = "ci-bot@northwind.test"
OTHER_CASE = "chloe.martin@northwind.test"


def note_for(email: str) -> ledger.Planned:
    message = {
        "text": "A note about your AI spend",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}],
    }
    target = {"email": email, "slack_user_id": None}
    return ledger.Planned(
        "nudge", email, "2026-W47", {"target": target, "message": message}
    )


async def test_admins_see_who_could_not_be_reached_and_why(db, fake_slack):
    await load_directory(db)
    async with db.sessions() as session, session.begin():
        await session.execute(update(Person).values(slack_user_id=None))
    fake_slack.add_user("U1", ACTIVE)
    fake_slack.add_user("U2", DEACTIVATED, deleted=True)
    fake_slack.add_user("U3", BOT, is_bot=True)
    fake_slack.add_user("U4", "Chloe.Martin@Northwind.TEST")
    clock = FakeClock()
    client = SlackClient(
        token=VALID_TOKEN, base_url=fake_slack.base_url, sleep=clock.sleep
    )
    async with db.sessions() as session, session.begin():
        await ledger.plan(
            session,
            [note_for(e) for e in (ACTIVE, DEACTIVATED, BOT, OTHER_CASE)],
            now=clock(),
        )

    await Deliverer(sessions=db.sessions, client=client, clock=clock).deliver_due()
    admin = await person(db.sessions, "hana.sato@northwind.test")
    async with db.sessions() as session:
        shown = to_plain_text(
            await answer(session, asker=admin, text="admin", today=TODAY)
        )

    assert sorted(m["requested_channel"] for m in fake_slack.delivered()) == [
        "U1",
        "U4",
    ]
    unreachable = shown.split("Cannot receive messages")[1]
    assert f"{DEACTIVATED}: no Slack account for this email" in unreachable
    assert f"{BOT}: the Slack account is a bot" in unreachable
    assert ACTIVE not in unreachable and OTHER_CASE not in unreachable


async def test_a_slack_user_whose_email_differs_in_case_is_found_and_cached(
    db, fake_slack
):
    await load_directory(db)
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(Person).where(Person.email == OTHER_CASE).values(slack_user_id=None)
        )
    fake_slack.add_user("U0CHLOE", "Chloe.Martin@Northwind.TEST", tz="Europe/Paris")
    client = SlackClient(token=VALID_TOKEN, base_url=fake_slack.base_url)

    async with db.sessions() as session:
        first = await person_for_slack_user(session, client, "U0CHLOE")
        again = await person_for_slack_user(session, client, "U0CHLOE")
        cached = await session.get(SlackUser, OTHER_CASE)

    assert first.email == again.email == OTHER_CASE
    assert len(fake_slack.calls_to("users.info")) == 1
    assert (cached.slack_user_id, cached.timezone, cached.status) == (
        "U0CHLOE",
        "Europe/Paris",
        "ok",
    )


async def test_a_slack_user_outside_the_directory_is_told_how_to_get_added(running_bot):
    running_bot.fake.add_user("U0GUEST", "guest@elsewhere.test")

    await running_bot.slash("U0GUEST", "me")
    [reply] = await running_bot.answers()

    assert "not in aispend's directory" in reply["text"]


async def test_a_mentioned_person_slack_knows_by_email_is_found(running_bot):
    async with running_bot.db.sessions() as session, session.begin():
        await session.execute(
            update(Person).where(Person.email == ACTIVE).values(slack_user_id=None)
        )
    running_bot.fake.add_user("U0ANA2", "Ana.Ruiz@northwind.test")

    await running_bot.slash("U0NW00003", "<@U0ANA2|ana> 2026-W47")
    [reply] = await running_bot.answers()

    assert "Ana Ruiz" in reply["text"]
    assert "can't find" not in reply["text"]
