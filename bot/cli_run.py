"""CLI: ``aispend run``, the bot in Socket Mode or HTTP mode, or the local console.

Without Slack tokens it starts the console, which reads ``/aispend …`` lines
from stdin as the person given by ``--as`` and prints the answers. With them,
the same process also runs the scheduler (digests, nudges, alerts) unless told
not to; several processes may run it, the database lease picks one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from bot import server
from bot.app import build_app
from bot.cli_ask import parse_today
from bot.console import run_console
from bot.context import open_database
from bot.services import Services
from bot.slack_client import DeliveryStopped, SlackClient, SlackError
from usage.errors import ConfigError, UserError
from usage.models import utcnow
from usage.settings import file_settings

logger = logging.getLogger(__name__)

DEFAULT_PORT = 3000


def register(subparsers) -> None:
    run = subparsers.add_parser(
        "run",
        help="run the bot (Socket Mode or HTTP); without Slack tokens, a local console",
    )
    mode = run.add_mutually_exclusive_group()
    mode.add_argument(
        "--socket", action="store_true", help="Socket Mode (needs SLACK_APP_TOKEN)"
    )
    mode.add_argument(
        "--http",
        action="store_true",
        help="serve /slack/events (needs SLACK_SIGNING_SECRET)",
    )
    run.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="HTTP port (0: any)"
    )
    run.add_argument("--host", default="0.0.0.0", help="HTTP address to listen on")
    run.add_argument(
        "--no-scheduler",
        dest="scheduler",
        action="store_false",
        help="do not run the digest and nudge scheduler in this process",
    )
    run.add_argument("--as", dest="email", metavar="EMAIL", help="console: who asks")
    run.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        help="console: answer as if today were this day",
    )
    run.set_defaults(run=run_bot)


def choose_mode(args, env) -> str:
    """``console``, ``socket`` or ``http``, from the flags and the tokens present."""
    has_tokens = bool(env.get("SLACK_BOT_TOKEN") or env.get("SLACK_APP_TOKEN"))
    if args.socket:
        return "socket"
    if args.http:
        return "http"
    if not has_tokens:
        return "console"
    return "socket" if env.get("SLACK_APP_TOKEN") else "http"


def _require(env, name: str, why: str) -> str:
    value = env.get(name)
    if not value:
        raise ConfigError(f"{name} is not set; {why}")
    return value


async def run_bot(args) -> int:
    env = os.environ
    mode = choose_mode(args, env)
    if mode == "console":
        return await _console(args)
    token = _require(env, "SLACK_BOT_TOKEN", "the bot needs its bot token (xoxb-…)")
    if mode == "socket":
        app_token = _require(
            env, "SLACK_APP_TOKEN", "Socket Mode needs an app-level token (xapp-…)"
        )
        secret = ""
    else:
        app_token = ""
        secret = _require(
            env, "SLACK_SIGNING_SECRET", "HTTP mode verifies Slack's signatures with it"
        )
    settings = file_settings(env)
    api_url = env.get("SLACK_API_URL") or None
    async with open_database() as sessions:
        await _check_database(sessions)
        slack = SlackClient(token=token, base_url=api_url)
        bot_user_id = await _check_token(slack)
        services = Services(sessions=sessions, slack=slack, settings=settings)
        app = build_app(
            services,
            token=token,
            signing_secret=secret,
            api_url=api_url,
            bot_user_id=bot_user_id,
            socket_mode=mode == "socket",
        )
        stop = _stop_event()
        await slack.open()
        background = _start_scheduler(sessions, slack, stop) if args.scheduler else None
        try:
            if mode == "socket":
                await _serve_socket(app, app_token, stop)
            else:
                await _serve_http(app, host=args.host, port=args.port, stop=stop)
        finally:
            stop.set()
            if background is not None:
                await background
            await slack.close()
    return 0


def _start_scheduler(sessions, slack: SlackClient, stop: asyncio.Event) -> asyncio.Task:
    """Digests, nudges and alerts, in the background; only the lease holder sends."""
    from bot.delivery import Deliverer
    from bot.scheduler import Scheduler

    async def pause(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    scheduler = Scheduler(
        sessions=sessions,
        deliverer=Deliverer(sessions=sessions, client=slack),
        clock=utcnow,
        sleep=pause,
    )
    return asyncio.create_task(scheduler.run(stop))


async def _console(args) -> int:
    if not args.email:
        raise UserError(
            "no Slack tokens are set, so `aispend run` starts the local console: "
            "say who asks with --as EMAIL"
        )
    given = parse_today(args.today)
    settings = file_settings()
    zone = settings.reporting_zone

    def today():
        return given or utcnow().astimezone(zone).date()

    async with open_database() as sessions:
        return await run_console(
            sessions,
            email=args.email,
            today=today,
            lines=sys.stdin,
            out=sys.stdout,
            interactive=sys.stdin.isatty(),
        )


async def _check_database(sessions) -> None:
    """Fail at start, with the fix, when the schema is missing."""
    from sqlalchemy import text

    async with sessions() as session:
        await session.execute(text("SELECT 1 FROM people LIMIT 1"))


async def _check_token(slack: SlackClient) -> str | None:
    """The bot's own user id; a refused token stops the start with a clear line."""
    try:
        answer = await slack.auth_test()
    except DeliveryStopped as exc:
        raise ConfigError(f"Slack refused SLACK_BOT_TOKEN ({exc.error})") from exc
    except SlackError as exc:
        logger.warning("auth.test failed (%s); starting anyway", exc.error)
        return None
    return answer.get("user_id")


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGTERM", "SIGINT"):
        with contextlib.suppress(NotImplementedError, AttributeError):
            loop.add_signal_handler(getattr(signal, name), stop.set)
    return stop


async def _serve_http(app, *, host: str, port: int, stop: asyncio.Event) -> None:
    runner, bound = await server.start(app, host=host, port=port)
    print(
        f"aispend: listening on http://{host}:{bound}{server.EVENTS_PATH}", flush=True
    )
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        logger.info("HTTP server stopped")


async def _serve_socket(app, app_token: str, stop: asyncio.Event) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(app, app_token)
    await handler.connect_async()
    print("aispend: connected to Slack in Socket Mode", flush=True)
    try:
        await stop.wait()
    finally:
        await handler.close_async()
        logger.info("Socket Mode connection closed")
