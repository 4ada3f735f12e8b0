"""The load client: sends signed Slack requests to the bot, round after round,
and times each acknowledgement and each answer.

It runs in a process of its own (``python -m bench.load``, the plan as JSON on
stdin), so that neither the fake Slack Web API the bot calls nor the benchmark
itself competes with it for the interpreter: it measures the bot, not a busy
client. It also receives the answers: every slash command's ``response_url``
points at a small server of its own, and a round ends when all its answers
have arrived. Times are ``time.perf_counter()`` readings, which on Linux share
one monotonic clock across processes.

Plan: ``{"url": URL, "rounds": [[request, ...], ...]}``, where a request is
``{"id", "round", "user_id", "text"}`` (a slash command) or ``{"id", "round",
"event"}`` (an event body, sent as it is). Output: a JSON list of
``{"id", "round", "started", "acked", "answered", "status"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time

import aiohttp
from aiohttp import web

from tests.bot.slack_requests import FORM, JSON, signed_headers, slash_body

ANSWER_WAIT = 60.0


class Answers:
    """The client's own response_url endpoint: when each answer arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.url = ""

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/answer/{id}", self._receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/answer/"
        return runner

    async def _receive(self, request: web.Request) -> web.Response:
        now = time.perf_counter()
        await request.read()
        key = request.match_info["id"]
        self.arrived.setdefault(key, now)
        future = self.waiting.get(key)
        if future is not None and not future.done():
            future.set_result(now)
        return web.Response(text="ok")

    def expect(self, key: str) -> asyncio.Future[float]:
        future = asyncio.get_running_loop().create_future()
        if key in self.arrived:
            future.set_result(self.arrived[key])
        self.waiting[key] = future
        return future


async def send_rounds(url: str, rounds: list[list[dict]]) -> list[dict]:
    answers = Answers()
    runner = await answers.start()
    results: list[dict] = []
    # No pool limit: a burst of 250 requests is 250 connections at once.
    connector = aiohttp.TCPConnector(limit=0)
    try:
        async with aiohttp.ClientSession(connector=connector) as http:

            async def send(request: dict) -> None:
                if "event" in request:
                    body, kind, due = request["event"], JSON, None
                else:
                    body = slash_body(
                        user_id=request["user_id"],
                        text=request["text"],
                        response_url=answers.url + request["id"],
                    )
                    kind, due = FORM, answers.expect(request["id"])
                headers = signed_headers(body, content_type=kind)
                started = time.perf_counter()
                try:
                    async with http.post(
                        url, data=body.encode(), headers=headers
                    ) as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:
                    status = 0
                acked = time.perf_counter()
                answered = None
                if due is not None and status == 200:
                    with contextlib.suppress(TimeoutError):  # counted as failed
                        answered = await asyncio.wait_for(due, ANSWER_WAIT)
                results.append(
                    {
                        "id": request["id"],
                        "round": request["round"],
                        "started": started,
                        "acked": acked,
                        "answered": answered,
                        "status": status,
                    }
                )

            for requests in rounds:
                await asyncio.gather(*(send(request) for request in requests))
    finally:
        await runner.cleanup()
    return results


def main() -> int:
    plan = json.load(sys.stdin)
    results = asyncio.run(send_rounds(plan["url"], plan["rounds"]))
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
