"""A running bot (HTTP mode) on the test database, against the local fake Slack."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest_asyncio

from bot import server
from bot.app import build_app
from bot.services import Services
from bot.slack_client import SlackClient
from tests.bot.slack_requests import (
    FORM,
    JSON,
    SIGNING_SECRET,
    event_body,
    interaction_body,
    signed_headers,
    slash_body,
)
from tests.fakes.clock import FakeClock
from tests.fakes.slack import VALID_TOKEN, FakeSlack
from tests.northwind import load_northwind

# Noon UTC on the fixtures' "today" (Thursday 2026-11-19).
NOW = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
RESPONSE_METHOD = "response_url"


@dataclass
class RunningBot:
    url: str
    fake: FakeSlack
    services: Services
    clock: FakeClock
    db: object
    http: aiohttp.ClientSession

    @property
    def response_url(self) -> str:
        return self.fake.base_url + RESPONSE_METHOD

    async def post(self, body: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
        async with self.http.post(self.url, data=body.encode(), headers=headers) as r:
            await r.read()
            return r

    async def slash(self, user_id: str, text: str, **sign) -> aiohttp.ClientResponse:
        body = slash_body(user_id=user_id, text=text, response_url=self.response_url)
        return await self.post(body, signed_headers(body, content_type=FORM, **sign))

    async def event(self, event: dict, *, event_id: str, retry: int = 0):
        body = event_body(event, event_id=event_id, retry=retry)
        headers = signed_headers(body, content_type=JSON)
        if retry:
            headers |= {
                "X-Slack-Retry-Num": str(retry),
                "X-Slack-Retry-Reason": "http_timeout",
            }
        return await self.post(body, headers)

    async def interact(self, payload: dict) -> tuple[int, str]:
        body = interaction_body(payload)
        headers = signed_headers(body, content_type=FORM)
        async with self.http.post(self.url, data=body.encode(), headers=headers) as r:
            return r.status, await r.text()

    async def wait_for(self, method: str, count: int = 1):
        """The recorded calls to ``method``, once there are ``count`` of them."""
        return await asyncio.to_thread(self.fake.wait_for, method, count)

    async def answers(self, count: int = 1) -> list[dict]:
        return [call.body for call in await self.wait_for(RESPONSE_METHOD, count)]


async def start_bot(db, fake: FakeSlack, *, load: bool = True):
    if load:
        await load_northwind(db)
    clock = FakeClock(NOW)
    slack = SlackClient(token=VALID_TOKEN, base_url=fake.base_url, sleep=clock.sleep)
    await slack.open()  # as `aispend run` does: one pool of kept-alive connections
    services = Services(sessions=db.sessions, slack=slack, clock=clock)
    app = build_app(
        services,
        token=VALID_TOKEN,
        signing_secret=SIGNING_SECRET,
        api_url=fake.base_url,
    )
    runner, port = await server.start(app, host="127.0.0.1", port=0)
    http = aiohttp.ClientSession()
    bot = RunningBot(
        f"http://127.0.0.1:{port}{server.EVENTS_PATH}", fake, services, clock, db, http
    )
    return bot, runner


@pytest_asyncio.fixture
async def running_bot(db, fake_slack):
    bot, runner = await start_bot(db, fake_slack)
    try:
        yield bot
    finally:
        await stop_bot(bot, runner)


async def stop_bot(bot: RunningBot, runner) -> None:
    await settle()
    await bot.http.close()
    await runner.cleanup()
    await bot.services.slack.close()


async def settle() -> None:
    """Wait until every listener Bolt started in the background has finished."""
    while True:
        pending = [
            task
            for task in asyncio.all_tasks()
            if task is not asyncio.current_task()
            and "run_ack_function_asynchronously" in task.get_coro().__qualname__
        ]
        if not pending:
            return
        await asyncio.wait(pending)
