"""A slow answer never delays the ack: Slack gives up after three seconds."""

import asyncio
from contextlib import asynccontextmanager

from bot import slash
from bot.services import Services
from tests.blockkit import assert_valid_message
from tests.bot.conftest import NOW, start_bot, stop_bot
from tests.fakes.clock import FakeClock


class SlowDatabase:
    """Sessions that stay closed until the test opens the gate, recording each use."""

    def __init__(self, sessions, log: list[str]):
        self.sessions = sessions
        self.log = log
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    def __call__(self):
        return self._open()

    @asynccontextmanager
    async def _open(self):
        self.log.append("database")
        self.entered.set()
        await self.gate.wait()
        async with self.sessions() as session:
            yield session


async def test_ack_comes_before_any_database_or_web_api_call(db, fake_slack):
    bot, runner = await start_bot(db, fake_slack)
    log: list[str] = []
    slow = SlowDatabase(db.sessions, log)
    services = Services(sessions=slow, slack=bot.services.slack, clock=FakeClock(NOW))
    listener = slash.listener(services)
    fake_slack.add_user("U0NW00003", "maria.garcia@northwind.test")

    async def ack(**kwargs):
        log.append("ack")
        log.append(f"web api calls so far: {len(fake_slack.calls)}")

    body = {
        "user_id": "U0NW00003",
        "text": "team",
        "trigger_id": "t1",
        "response_url": bot.response_url,
    }
    running = asyncio.create_task(listener(ack=ack, body=body))
    await slow.entered.wait()
    slow.gate.set()
    await running
    (answer,) = await bot.answers()
    await stop_bot(bot, runner)

    assert log == ["ack", "web api calls so far: 0", "database"]
    assert_valid_message(answer)


async def test_signed_command_is_acked_while_the_answer_is_still_being_computed(
    db, fake_slack
):
    bot, runner = await start_bot(db, fake_slack)
    slow = SlowDatabase(db.sessions, [])
    bot.services.sessions = slow
    try:
        response = await bot.slash("U0NW00003", "team")
        acked_before_answer = not fake_slack.calls_to("response_url")
        slow.gate.set()
        [reply] = await bot.answers()
    finally:
        await stop_bot(bot, runner)

    assert response.status == 200
    assert acked_before_answer
    assert reply["text"].startswith("Team platform")
