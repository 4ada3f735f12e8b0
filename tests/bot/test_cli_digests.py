import asyncio
import json

import pytest

from bot.cli import main
from tests.northwind import expected, load_northwind
from usage.directory import person_by_email
from usage.models import PersonPrefs


@pytest.fixture
async def northwind_db(sqlite_db, monkeypatch):
    await load_northwind(sqlite_db)
    monkeypatch.setenv("DATABASE_URL", sqlite_db.url)
    return sqlite_db


async def run(*argv):
    return await asyncio.to_thread(main, list(argv))


async def test_digest_preview_prints_the_platform_week(northwind_db, capsys):
    code = await run(
        "digest",
        "preview",
        "--manager",
        "maria.garcia@northwind.test",
        "--week",
        "2026-W48",
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "Weekly AI spend · platform · 2026-W48" in out
    total = expected()["weeks"]["2026-W48"]["teams_direct_members"]["platform"]
    assert f"${float(total):,.2f}" in out


async def test_digest_preview_json_is_the_slack_payload(northwind_db, capsys):
    code = await run(
        "digest",
        "preview",
        "--manager",
        "maria.garcia@northwind.test",
        "--week",
        "2026-W48",
        "--json",
    )

    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(payload) == {"text", "blocks"}


async def test_nudges_preview_lists_heavy_users_and_leaves_out_who_opted_out(
    northwind_db, capsys
):
    async with northwind_db.sessions() as session, session.begin():
        farah = await person_by_email(session, "farah.haddad@northwind.test")
        session.add(PersonPrefs(person_id=farah.id, nudges_opt_out=True))

    code = await run("nudges", "preview", "--week", "2026-W48")

    out = capsys.readouterr().out
    assert code == 0
    assert "to Ben Kowalski <ben.kowalski@northwind.test>" in out
    assert "farah.haddad" not in out and "Farah" not in out
    assert "opted out: 1" in out


async def test_unknown_manager_is_one_line_and_exit_2(northwind_db, capsys):
    code = await run("digest", "preview", "--manager", "nobody@northwind.test")

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "not in the directory" in err


async def test_send_without_a_token_says_so(northwind_db, capsys):
    code = await run("digest", "send", "--week", "2026-W48")

    assert code == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err


async def test_digest_send_then_status_shows_what_went_out_and_what_was_skipped(
    northwind_db, fake_slack, capsys
):
    fake_slack.add_user("U0NW00001", "jordan.blake@northwind.test")
    fake_slack.add_user("U0NW00003", "maria.garcia@northwind.test")
    fake_slack.add_user("U0NW00007", "sam.okafor@northwind.test", deleted=True)
    # lee.chen's Slack id is unknown to the fake: users.info says user_not_found

    sent = await run("digest", "send", "--week", "2026-W48")
    again = await run("digest", "send", "--week", "2026-W48")
    status = await run("digest", "status", "--week", "2026-W48")

    out = capsys.readouterr().out
    assert (sent, again, status) == (0, 0, 0)
    assert len(fake_slack.delivered()) == 2
    assert "digest  maria.garcia@northwind.test              sent" in out
    assert (
        "sam.okafor@northwind.test                skipped: the Slack account is deactivated"
        in out
    )
    assert "lee.chen@northwind.test" in out and "no Slack account" in out
