"""Socket Mode: the same app, with requests arriving over a WebSocket (no signatures)."""

import asyncio
import json

from aiohttp import WSMsgType, web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import build_app
from bot.services import Services
from bot.slack_client import SlackClient
from tests.bot.conftest import NOW, RESPONSE_METHOD
from tests.fakes.clock import FakeClock
from tests.fakes.slack import TEAM_ID, VALID_TOKEN, FakeSlack
from tests.northwind import load_northwind

APP_TOKEN = "xapp-1-test"


class SocketServer:
    """A local stand-in for Slack's Socket Mode endpoint: says hello, sends
    envelopes, and collects the app's acknowledgements."""

    def __init__(self):
        self.acks: asyncio.Queue = asyncio.Queue()
        self.connected = asyncio.Event()
        self.socket: web.WebSocketResponse | None = None

    async def handle(self, request):
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1})
        self.connected.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                await self.acks.put(json.loads(message.data))
        return socket

    async def start(self):
        application = web.Application()
        application.router.add_get("/link", self.handle)
        self.runner = web.AppRunner(application)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"ws://127.0.0.1:{self.runner.addresses[0][1]}/link"


class FakeSlackWithSockets(FakeSlack):
    socket_url = ""

    def _apps_connections_open(self, body):
        return {"ok": True, "url": self.socket_url}


async def test_a_slash_command_over_socket_mode_is_acked_then_answered(db):
    await load_northwind(db)
    sockets = SocketServer()
    fake = FakeSlackWithSockets().start()
    fake.socket_url = await sockets.start()
    fake.tokens[APP_TOKEN] = None
    clock = FakeClock(NOW)
    slack = SlackClient(token=VALID_TOKEN, base_url=fake.base_url, sleep=clock.sleep)
    services = Services(sessions=db.sessions, slack=slack, clock=clock)
    app = build_app(
        services, token=VALID_TOKEN, api_url=fake.base_url, socket_mode=True
    )
    handler = AsyncSocketModeHandler(app, APP_TOKEN)
    envelope = {
        "envelope_id": "env-1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "team_id": TEAM_ID,
            "user_id": "U0NW00003",
            "command": "/aispend",
            "text": "team 2026-W47",
            "response_url": fake.base_url + RESPONSE_METHOD,
            "trigger_id": "1337.42.socket",
            "api_app_id": "A0AISPEND",
        },
    }
    try:
        await handler.connect_async()
        await asyncio.wait_for(sockets.connected.wait(), 30)
        await sockets.socket.send_json(envelope)
        ack = await asyncio.wait_for(sockets.acks.get(), 30)
        [call] = await asyncio.to_thread(fake.wait_for, RESPONSE_METHOD)
    finally:
        await handler.close_async()
        await sockets.runner.cleanup()
        fake.stop()

    assert ack["envelope_id"] == "env-1"
    assert call.body["text"].startswith("Team platform for week 2026-W47")
    assert call.body["response_type"] == "ephemeral"
