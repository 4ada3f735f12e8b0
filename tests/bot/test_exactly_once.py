"""A sending process killed with SIGKILL at a random recipient, then restarted,
delivers every message exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys

import pytest

from tests.fakes.slack import VALID_TOKEN
from usage.db import make_engine, make_sessionmaker
from usage.directory import import_directory
from usage.ingest import ingest_spreadsheet
from usage.migrate import upgrade_engine

PEOPLE = 300


def write_inputs(tmp_path) -> dict[str, str]:
    people = ["email,name,team,slack_user_id,timezone,role"]
    spend = ["date,user_email,model,cost_usd"]
    for n in range(PEOPLE):
        email = f"dev{n:03d}@example.test"
        people.append(f"{email},Dev {n:03d},crew,U{n:05d},UTC,member")
        spend.append(f"2026-11-25,{email},gpt-5,120.00")
    (tmp_path / "people.csv").write_text("\n".join(people) + "\n")
    (tmp_path / "spend.csv").write_text("\n".join(spend) + "\n")
    config = tmp_path / "aispend.toml"
    config.write_text(
        "[nudges]\nabsolute_usd = 100\nmultiple_of_usual = 0\ntool_cap_usd = 0\n"
        "[delivery]\nclaim_seconds = 0\n"
    )
    return {"config": str(config)}


async def prepare(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'send.db'}"
    engine = make_engine(url)
    await upgrade_engine(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await import_directory(
            session, people_path=tmp_path / "people.csv", teams_path=None
        )
    await ingest_spreadsheet(sessions, path=tmp_path / "spend.csv", tool="chat")
    await engine.dispose()
    return url


def send(env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "nudges", "send", "--week", "2026-W48"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("seed", [11, 23, 37])
async def test_a_send_killed_at_a_random_recipient_resumes_without_duplicates(
    tmp_path, fake_slack, seed
):
    rng = random.Random(seed)
    paths = write_inputs(tmp_path)
    url = await prepare(tmp_path)
    for n in range(PEOPLE):
        fake_slack.add_user(f"U{n:05d}", f"dev{n:03d}@example.test")
    fake_slack.rate_limit("chat.postMessage", on_calls={51, 180}, retry_after=0)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AISPEND_CONFIG": paths["config"],
        "SLACK_API_URL": fake_slack.base_url,
        "SLACK_BOT_TOKEN": VALID_TOKEN,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    method = rng.choice(["chat.postMessage", "users.info"])
    at = rng.randint(2, PEOPLE - 2)

    running: dict[str, subprocess.Popen] = {}
    fake_slack.after_call(
        method, at, lambda: os.kill(running["first"].pid, signal.SIGKILL)
    )
    first = running["first"] = send(env)
    await asyncio.to_thread(first.communicate, timeout=120)
    second = send(env)
    out, err = await asyncio.to_thread(second.communicate, timeout=120)

    assert first.returncode == -signal.SIGKILL
    assert second.returncode == 0, err.decode()
    per_user = [len(fake_slack.delivered_to(f"U{n:05d}")) for n in range(PEOPLE)]
    assert per_user == [1] * PEOPLE
    if method == "chat.postMessage":  # killed after Slack posted, before it was noted
        assert b"found already posted after a restart: 1" in out
