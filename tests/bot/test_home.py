import json

from sqlalchemy import select

from bot import home
from commands.home import OPEN_SETTINGS, REFRESH_HOME
from tests.blockkit import assert_valid_view
from tests.bot.conftest import settle
from tests.bot.slack_requests import block_action, home_opened
from usage.models import ProcessedEvent


def texts_of(view: dict) -> str:
    return json.dumps(view["blocks"])


async def test_opening_home_publishes_own_week_month_budget_and_settings(running_bot):
    response = await running_bot.event(home_opened("U0NW00004"), event_id="Ev0HOME01")
    [call] = await running_bot.wait_for("views.publish")

    view = call.body["view"]
    assert response.status == 200
    assert call.body["user_id"] == "U0NW00004"
    assert view["type"] == "home"
    assert_valid_view(view)
    shown = texts_of(view)
    assert "Your AI spend, Ana Ruiz" in shown
    assert "This week" in shown and "This month" in shown
    assert "Team platform's budget for November" in shown
    assert "What it went with" in shown
    assert "Spend nudges:* on" in shown
    assert OPEN_SETTINGS in shown


async def test_a_redelivered_home_event_publishes_once(running_bot):
    """Slack retries an event it thinks was not acknowledged: the same event id
    arrives a second time with a retry number, and must not publish again."""
    first = await running_bot.event(home_opened("U0NW00004"), event_id="Ev0FAKE1")
    again = await running_bot.event(
        home_opened("U0NW00004"), event_id="Ev0FAKE1", retry=1
    )
    await settle()

    assert first.status == again.status == 200
    assert len(running_bot.fake.calls_to("views.publish")) == 1
    assert running_bot.fake.delivered() == []
    async with running_bot.db.sessions() as session:
        seen = (await session.execute(select(ProcessedEvent.event_id))).scalars().all()
    assert seen == ["Ev0FAKE1"]


async def test_a_new_visit_with_a_new_event_id_publishes_again(running_bot):
    await running_bot.event(home_opened("U0NW00004"), event_id="Ev0VISIT1")
    await running_bot.event(home_opened("U0NW00004"), event_id="Ev0VISIT2")
    await settle()

    assert len(running_bot.fake.calls_to("views.publish")) == 2


async def test_the_messages_tab_publishes_nothing(running_bot):
    event = home_opened("U0NW00004") | {"tab": "messages"}

    await running_bot.event(event, event_id="Ev0MSGS1")
    await settle()

    assert running_bot.fake.calls_to("views.publish") == []


async def test_listener_called_twice_with_one_event_id_publishes_once(running_bot):
    listener = home.opened_listener(running_bot.services)
    body = {"event_id": "Ev0DIRECT", "event": home_opened("U0NW00005")}

    await listener(event=body["event"], body=body)
    await listener(event=body["event"], body=body)

    assert len(running_bot.fake.calls_to("views.publish")) == 1


async def test_someone_outside_the_directory_sees_how_to_get_added(running_bot):
    running_bot.fake.add_user("U0STRANGER", "visitor@elsewhere.test")

    await running_bot.event(home_opened("U0STRANGER"), event_id="Ev0STRANGE")
    [call] = await running_bot.wait_for("views.publish")

    assert "not in aispend's directory" in texts_of(call.body["view"])
    assert_valid_view(call.body["view"])


async def test_refresh_button_republishes_the_home_tab(running_bot):
    status, _ = await running_bot.interact(block_action("U0NW00004", REFRESH_HOME))
    [call] = await running_bot.wait_for("views.publish")

    assert status == 200
    assert call.body["user_id"] == "U0NW00004"


async def test_a_team_named_like_a_broadcast_pings_nobody_on_home(running_bot):
    async with running_bot.db.sessions() as session:
        from usage.models import Team

        team = (
            await session.execute(select(Team).where(Team.name == "platform"))
        ).scalar_one()
        team.name = "<!channel> & co"
        await session.commit()

    await running_bot.event(home_opened("U0NW00004"), event_id="Ev0ESCAPE")
    [call] = await running_bot.wait_for("views.publish")

    shown = texts_of(call.body["view"])
    assert "<!channel>" not in shown
    assert "&lt;!channel&gt; &amp; co" in shown


async def test_a_rate_limited_publish_waits_out_retry_after_then_succeeds(running_bot):
    running_bot.fake.rate_limit("views.publish", on_calls={1}, retry_after=30)

    await running_bot.event(home_opened("U0NW00004"), event_id="Ev0LIMITED")
    await settle()

    calls = running_bot.fake.calls_to("views.publish")
    assert len(calls) == 2
    assert running_bot.clock.slept == [30]
