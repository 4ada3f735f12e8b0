"""The bot under load, digests computed, and digests delivered: measured against
the local fake Slack Web API (tests/fakes/slack.py) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bench.generate import Org
from bench.measure import Stopwatch, Timings
from bot.delivery import Deliverer
from bot.slack_client import SlackClient
from digests.weekly import build_digest, managers, plan_digests, render_digest
from tests.bot.slack_requests import (
    SIGNING_SECRET,
    event_body,
    home_opened,
)
from tests.fakes.slack import VALID_TOKEN, FakeSlack
from usage.directory import TeamTree
from usage.models import Person
from usage.periods import week_period
from usage.settings import load_settings


class TimedSlack(FakeSlack):
    """The fake with a fixed latency per call, noting when each Home tab was published."""

    def __init__(self, *, latency: float = 0.0) -> None:
        super().__init__()
        self.latency = latency
        self.arrivals: dict[str, float] = {}

    def answer(self, method, body, token):
        if method == "views.publish":  # when each person's Home tab appeared
            key = f"home:{body.get('user_id')}"
            self.arrivals.setdefault(key, time.perf_counter())
        if self.latency:
            time.sleep(self.latency)  # a slow network, on the fake's own thread
        return super().answer(method, body, token)


# -- the HTTP bot ---------------------------------------------------------------


@dataclass
class LoadResult:
    acks: Timings  # the rounds of ``concurrency`` at a time
    answers: Timings
    failures: int
    worst_ms: float  # the burst's slowest answer or Home tab
    peak_rss_mb: float
    extra: dict = field(default_factory=dict)


async def _start_bot(database_url: str, fake: FakeSlack):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=VALID_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.base_url,
        NO_PROXY="127.0.0.1,localhost",
    )
    for name in (
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "AISPEND_CONFIG",
    ):
        env.pop(name, None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "--http",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-scheduler",
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
    match = re.search(r"(http://\S+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"the bot did not start: {line!r}")
    return process, match[1]


async def _wait_for_publishes(fake: FakeSlack, count: int, within: float = 20.0) -> int:
    """Home tabs are published after the ack; wait for them (or give up)."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        published = len(fake.calls_to("views.publish"))
        if published >= count:
            return published
        await asyncio.sleep(0.05)
    return len(fake.calls_to("views.publish"))


def _peak_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def _send_from_load_client(url: str, rounds: list[list[dict]]) -> list[dict]:
    """Run bench.load in a process of its own and return what it measured."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.load",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    plan = json.dumps({"url": url, "rounds": rounds}).encode()
    out, _ = await process.communicate(plan)
    if process.returncode != 0:
        raise RuntimeError(f"the load client stopped with status {process.returncode}")
    return json.loads(out)


BURST = 200


def _plan(org: Org, *, rounds: int, concurrency: int, homes: int) -> list[list[dict]]:
    """``rounds`` rounds of ``concurrency`` slash commands, then one burst of
    ``BURST`` commands and ``homes`` Home tab opens together."""
    texts = ("me last week", "team last week", "org last week", "budget")
    run = uuid.uuid4().hex[:8]  # event ids unseen by the database, run after run

    def slash(index: int, round_: int) -> dict:
        return {
            "id": f"answer-{index}",
            "round": round_,
            "user_id": f"UB{index % org.people:07d}",
            "text": texts[index % len(texts)],
        }

    def home(index: int, round_: int) -> dict:
        user = f"UB{index % org.people:07d}"
        body = event_body(home_opened(user), event_id=f"EvBench{run}{index}")
        return {"id": f"home:{user}", "round": round_, "event": body}

    plan = [
        [slash(round_ * concurrency + i, round_) for i in range(concurrency)]
        for round_ in range(rounds)
    ]
    first = rounds * concurrency
    plan.append(
        [slash(first + i, rounds) for i in range(BURST)]
        + [home(i, rounds) for i in range(homes)]
    )
    return plan


async def bot_under_load(
    database_url: str, org: Org, *, rounds: int, concurrency: int = 50, homes: int = 50
) -> LoadResult:
    """Signed /aispend requests, ``concurrency`` at a time for ``rounds`` rounds
    (acks and answers timed), then one burst of 200 commands and ``homes`` Home
    tab opens together (the slowest answer or Home tab), sent by a load client
    in its own process."""
    fake = TimedSlack()
    fake.start()
    process, url = await _start_bot(database_url, fake)
    try:
        plan = _plan(org, rounds=rounds, concurrency=concurrency, homes=homes)
        sent = await _send_from_load_client(url, plan)
        published = await _wait_for_publishes(fake, homes)
    finally:
        peak = _peak_rss_mb(process.pid)
        process.terminate()
        await process.wait()
        fake.stop()
    acks, answers, burst, burst_homes = [], [], [], []
    failures = burst_failures = 0
    for r in sent:
        home = r["id"].startswith("home:")  # shown once the fake has the view
        arrived = fake.arrivals.get(r["id"]) if home else r["answered"]
        in_burst = r["round"] == rounds
        if r["status"] != 200 or arrived is None:
            burst_failures += in_burst
            failures += not in_burst
        elif in_burst:
            (burst_homes if home else burst).append((arrived - r["started"]) * 1000)
        else:
            acks.append((r["acked"] - r["started"]) * 1000)
            answers.append((arrived - r["started"]) * 1000)
    return LoadResult(
        Timings(tuple(acks)),
        Timings(tuple(answers)),
        failures,
        max(burst + burst_homes, default=float("nan")),
        peak,
        {
            "home_published": published,
            "burst_failures": burst_failures,
            "burst_answers": Timings(tuple(burst)),
            "burst_homes": Timings(tuple(burst_homes)),
        },
    )


# -- digests --------------------------------------------------------------------


async def digest_timings(sessions, org: Org, *, count: int) -> tuple[Timings, int]:
    """Build and render ``count`` manager digests (cycling through the managers)."""
    today = org.end - timedelta(days=1)
    weeks = [week_period(today - timedelta(days=7 * back)) for back in (1, 2, 3)]
    samples = []
    async with sessions() as session:
        settings = await load_settings(session)
        people = await managers(session)
        tree = await TeamTree.load(session)  # a batch loads the tree once
    index = 0
    while len(samples) < count:
        manager = people[index % len(people)]
        period = weeks[(index // len(people)) % len(weeks)]
        async with sessions() as session:
            started = time.perf_counter()
            digest = await build_digest(
                session,
                manager_email=manager.email,
                period=period,
                today=today,
                settings=settings,
                tree=tree,
            )
            render_digest(digest)
            samples.append((time.perf_counter() - started) * 1000)
        index += 1
    return Timings(tuple(samples)), len(people)


@dataclass
class DeliveryResult:
    delivered: int
    duplicates: int
    seconds: float
    minimum_seconds: float
    api_calls: int
    waits: float

    @property
    def ratio(self) -> float:
        return self.seconds / self.minimum_seconds


async def delivery_run(
    sessions, org: Org, *, count: int, latency: float = 0.05, retry_after: int = 2
) -> DeliveryResult:
    """Plan ``count`` digests and deliver them through a fake Slack that takes
    ``latency`` per call and answers 429 (Retry-After) twice on the way."""
    today = org.end - timedelta(days=1)
    now = datetime.now(UTC)
    async with sessions() as session:
        settings = await load_settings(session)
        people = await managers(session)
        planned, back = 0, 1
        while planned < count:
            period = week_period(today - timedelta(days=7 * back))
            await plan_digests(
                session, period=period, today=today, settings=settings, now=now
            )
            await session.commit()
            planned += len(people)
            back += 1
        rows = await session.execute(select(Person.slack_user_id, Person.email))
        directory = list(rows)
    fake = TimedSlack(latency=latency)
    for slack_id, email in directory:
        if slack_id:
            fake.add_user(slack_id, email)
    first, second = count // 20, count // 2
    fake.rate_limit(
        "chat.postMessage", on_calls={first, second}, retry_after=retry_after
    )
    fake.start()
    client = SlackClient(token=VALID_TOKEN, base_url=fake.base_url)
    try:
        with Stopwatch() as watch:
            await Deliverer(sessions=sessions, client=client).deliver_due()
    finally:
        fake.stop()
    posts = fake.calls_to("chat.postMessage")
    entries = [
        _entry_of(call.body) for call in posts if call.number not in (first, second)
    ]
    calls = len(fake.calls)
    waits = 2 * retry_after
    return DeliveryResult(
        delivered=len(set(entries)),
        duplicates=len(entries) - len(set(entries)),
        seconds=watch.seconds,
        minimum_seconds=calls * latency + waits,
        api_calls=calls,
        waits=waits,
    )


def _entry_of(body: dict) -> str:
    """The ledger entry a posted message names in its metadata."""
    metadata = body.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return json_key((metadata or {}).get("event_payload") or {})


def json_key(payload: dict) -> str:
    return ",".join(f"{k}={payload[k]}" for k in sorted(payload))


def median(values) -> float:
    return statistics.median(values) if values else float("nan")
