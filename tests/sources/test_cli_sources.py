"""The command line: ``aispend ingest <vendor>`` against a loopback fake, ``aispend sources``."""

from __future__ import annotations

import pytest

from bot.cli import main
from tests.conftest import NORTHWIND
from tests.sources.fakes import KEY, FakeAnthropic, LoopbackServer

MONTH = ["--since", "2026-11-02", "--until", "2026-11-29"]


@pytest.fixture
def database(monkeypatch, settings_file, capsys):
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", KEY)
    assert main(["db", "upgrade"]) == 0
    people = ["people", "import", str(NORTHWIND / "people.csv")]
    assert main([*people, "--teams", str(NORTHWIND / "teams.csv")]) == 0
    capsys.readouterr()


def test_ingest_then_sources_shows_coverage_rows_and_reconciliation(database, capsys):
    with LoopbackServer(FakeAnthropic()) as server:
        assert main(["ingest", "anthropic", *MONTH, "--base-url", server.url]) == 0
        assert (
            main(["ingest", "anthropic", "--costs", *MONTH, "--base-url", server.url])
            == 0
        )
    pulled = capsys.readouterr().out

    assert main(["sources"]) == 0
    listing = capsys.readouterr().out
    assert main(["sources", "--reconcile", "--tool", "anthropic-api"]) == 0
    reconciled = capsys.readouterr().out

    assert "anthropic import from Anthropic usage report" in pulled
    line = next(row for row in listing.splitlines() if row.startswith("anthropic "))
    assert "2026-11-02..2026-11-29" in line
    assert "cursor" in listing and "never pulled" in listing
    week = next(row for row in reconciled.splitlines() if "2026-W45" in row)
    assert week.split() == ["2026-W45", "$53.51", "$53.51", "$0.00", "$0.00"]


def test_a_missing_key_is_one_line_and_exit_2(database, monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY")

    code = main(["ingest", "claude-code", *MONTH, "--base-url", "http://127.0.0.1:9"])

    err = capsys.readouterr().err
    assert code == 2
    assert (
        err == "aispend: set ANTHROPIC_ADMIN_KEY to pull this source (it is not set)\n"
    )


def test_a_broken_paging_contract_is_one_line_and_shows_in_sources(database, capsys):
    fake = FakeAnthropic()
    fake.usage[0]["next_page"] = None

    with LoopbackServer(fake) as server:
        code = main(["ingest", "anthropic", *MONTH, "--base-url", server.url])
    err = capsys.readouterr().err
    main(["sources"])
    listing = capsys.readouterr().out

    assert code == 2
    assert err.count("\n") == 1 and "has_more but gives no next_page" in err
    assert "last attempt failed: Anthropic usage report page 1 says has_more" in listing


def test_a_refused_key_names_the_variable(database, monkeypatch, capsys):
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "wrong")

    with LoopbackServer(FakeAnthropic()) as server:
        code = main(["ingest", "anthropic", *MONTH, "--base-url", server.url])

    err = capsys.readouterr().err
    assert code == 2
    assert "refused the key (401" in err and "ANTHROPIC_ADMIN_KEY" in err
    assert "wrong" not in err


def test_bad_dates_and_urls_are_user_errors(database, capsys):
    assert main(["ingest", "cursor", "--since", "yesterday"]) == 2
    assert "--since 'yesterday' is not a date" in capsys.readouterr().err
    assert main(["ingest", "anthropic", "--base-url", "ftp://x"]) == 2
    assert "not an http(s) URL" in capsys.readouterr().err
    assert main(["ingest", "github"]) == 2
    assert "give --org ORG" in capsys.readouterr().err
