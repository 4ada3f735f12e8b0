"""HTTP mode: Bolt's ``/slack/events`` on an aiohttp server (signatures checked by Bolt)."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def web_app(app: AsyncApp) -> web.Application:
    """An aiohttp application serving Slack's requests and a health check."""

    async def events(request: web.Request) -> web.Response:
        response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    application = web.Application()
    application.router.add_post(EVENTS_PATH, events)
    application.router.add_get("/healthz", health)
    return application


async def start(app: AsyncApp, *, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (to clean up) and the bound port."""
    runner = web.AppRunner(web_app(app), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    logger.info("serving %s on %s:%d", EVENTS_PATH, host, bound)
    return runner, bound
