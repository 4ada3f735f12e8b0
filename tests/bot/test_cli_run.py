"""``aispend run``: the console without tokens, HTTP mode against the fake Slack."""

import asyncio
import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal

import aiohttp
import pytest

from bot.cli import main
from bot.console import run_console, strip_command
from commands.message import usd
from tests.bot.conftest import RESPONSE_METHOD
from tests.bot.slack_requests import FORM, SIGNING_SECRET, signed_headers, slash_body
from tests.conftest import NORTHWIND
from tests.fakes.slack import VALID_TOKEN
from tests.northwind import TODAY, expected_team_week, load_gateway_and_sheet

PLATFORM = [
    "maria.garcia@northwind.test",
    "ana.ruiz@northwind.test",
    "ben.kowalski@northwind.test",
    "chloe.martin@northwind.test",
    "ci-bot@northwind.test",
]


@pytest.fixture
def northwind_file(tmp_path, monkeypatch):
    """A migrated SQLite file with the Northwind directory and usage, as DATABASE_URL."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'run.db'}")
    assert main(["db", "upgrade"]) == 0
    argv = ["people", "import", str(NORTHWIND / "people.csv")]
    assert main([*argv, "--teams", str(NORTHWIND / "teams.csv")]) == 0
    assert main(["ingest", "litellm", str(NORTHWIND / "litellm_spend_logs.csv")]) == 0
    assert main(["ingest", "csv", str(NORTHWIND / "tool_costs.csv")]) == 0
    return os.environ["DATABASE_URL"]


def aispend(*argv: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *argv]


def test_piped_lines_are_answered_as_the_given_person_and_exit_0(northwind_file):
    lines = "/aispend me 2026-W47\n\n/aispend sources\n"

    done = subprocess.run(
        aispend("run", "--as", "ana.ruiz@northwind.test", "--today", TODAY.isoformat()),
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )

    assert done.returncode == 0, done.stderr
    assert "Your AI spend · week 2026-W47" in done.stdout
    assert "Data sources" in done.stdout
    assert "Traceback" not in done.stderr


def test_console_without_a_person_is_one_line_and_status_2(northwind_file, capsys):
    code = main(["run"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "--as EMAIL" in err[0]


@pytest.mark.parametrize(
    ("argv", "env", "needs"),
    [
        (["run", "--http"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (["run", "--socket"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN"),
        (["run", "--http"], {}, "SLACK_BOT_TOKEN"),
    ],
)
def test_a_missing_token_is_named_with_status_2(
    northwind_file, monkeypatch, capsys, argv, env, needs
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    code = main(argv)

    err = capsys.readouterr().err.strip()
    assert code == 2
    assert needs in err and "\n" not in err


def test_an_unknown_person_in_the_console_is_one_line_and_status_2(
    northwind_file, monkeypatch, capsys
):
    monkeypatch.setattr(sys, "stdin", io.StringIO("/aispend me\n"))

    code = main(["run", "--as", "nobody@northwind.test"])

    assert code == 2
    assert "nobody@northwind.test is not in the directory" in capsys.readouterr().err


def test_strip_command_accepts_lines_with_or_without_the_prefix():
    assert strip_command("/aispend team platform\n") == "team platform"
    assert strip_command("  me last week ") == "me last week"
    assert strip_command("/AISPEND") == ""
    assert strip_command("   \n") is None


async def test_console_writes_a_setting_the_way_slack_would(db):
    await load_gateway_and_sheet(db)
    out = io.StringIO()

    code = await run_console(
        db.sessions,
        email="ben.kowalski@northwind.test",
        today=lambda: TODAY,
        lines=io.StringIO("/aispend optout nudges\n/aispend settings\n"),
        out=out,
    )

    assert code == 0
    assert "Saved: you will get no more spend nudges" in out.getvalue()
    assert "Spend nudges: off (you opted out)" in out.getvalue()


async def test_http_mode_answers_a_signed_team_command_and_refuses_an_unsigned_one(
    northwind_file, fake_slack, monkeypatch
):
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_BOT_TOKEN", VALID_TOKEN)
    expected = json.loads((NORTHWIND / "expected.json").read_text())
    total = expected_team_week(
        expected, "2026-W47", PLATFORM, {"api-gateway", "vertex-ai"}
    )
    process = await asyncio.create_subprocess_exec(
        *aispend("run", "--http", "--host", "127.0.0.1", "--port", "0"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        port = re.search(r"127\.0\.0\.1:(\d+)/slack/events", line)
        assert port, line
        url = f"http://127.0.0.1:{port[1]}/slack/events"
        body = slash_body(
            user_id="U0NW00003",
            text="team 2026-W47",
            response_url=fake_slack.base_url + RESPONSE_METHOD,
        )
        async with aiohttp.ClientSession() as http:
            async with http.post(
                url, data=body, headers=signed_headers(body, content_type=FORM)
            ) as signed:
                signed_status = signed.status
            async with http.post(
                url, data=body, headers={"Content-Type": FORM}
            ) as bare:
                bare_status = bare.status
        [call] = await asyncio.to_thread(fake_slack.wait_for, RESPONSE_METHOD)
    finally:
        process.terminate()
        _, err = await asyncio.wait_for(process.communicate(), 30)

    assert signed_status == 200
    assert bare_status == 401
    assert call.body["text"].startswith("Team platform for week 2026-W47")
    assert usd(int(total * Decimal(1_000_000))) in call.body["text"]
    assert fake_slack.calls_to("auth.test")
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in err
