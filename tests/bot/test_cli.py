"""The command line: the README's flow, and one clear line with status 2 for bad input."""

import json

import pytest

from bot.cli import main
from tests.conftest import NORTHWIND


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    config = tmp_path / "aispend.toml"
    config.write_text(f'[pricing]\nprice_table = "{NORTHWIND / "prices.json"}"\n')
    monkeypatch.setenv("AISPEND_CONFIG", str(config))
    assert main(["db", "upgrade"]) == 0
    return url


@pytest.fixture
def northwind(database):
    assert (
        main(
            [
                "people",
                "import",
                str(NORTHWIND / "people.csv"),
                "--teams",
                str(NORTHWIND / "teams.csv"),
            ]
        )
        == 0
    )
    assert main(["ingest", "litellm", str(NORTHWIND / "litellm_spend_logs.csv")]) == 0
    assert main(["ingest", "csv", str(NORTHWIND / "tool_costs.csv")]) == 0


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_ask_prints_the_team_answer(northwind, capsys):
    capsys.readouterr()

    code = main(["ask", "--as", "maria.garcia@northwind.test", "team", "2026-W48"])

    out = capsys.readouterr().out
    assert code == 0
    assert "Team platform · week 2026-W48" in out
    assert "$1,008.04" in out


def test_ask_json_prints_the_slack_payload(northwind, capsys):
    capsys.readouterr()

    main(["ask", "--as", "maria.garcia@northwind.test", "--json", "me", "2026-W48"])

    payload = json.loads(capsys.readouterr().out)
    assert payload["response_type"] == "ephemeral"
    assert payload["text"].startswith("Your AI spend for week 2026-W48")
    assert payload["blocks"][0]["type"] == "header"


def test_import_report_lists_rejected_rows_with_their_line(database, capsys):
    main(["ingest", "litellm", str(NORTHWIND / "litellm_spend_logs.csv")])

    out = capsys.readouterr().out
    assert "duplicates skipped:  1" in out
    assert "rejected line 553: negative token count" in out
    assert "unpriced model claude-sonnet-9-20990101: 1 row(s)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ingest", "csv", "missing.csv"], "missing.csv: no such file"),
        (
            ["ingest", "litellm", str(NORTHWIND / "people.csv")],
            "column 'email' is not one aispend reads",
        ),
        (
            [
                "ingest",
                "litellm",
                "--dsn",
                "postgresql://x@127.0.0.1:1/x",
                "--since",
                "2026-13-01",
            ],
            "is not a date",
        ),
        (["ingest", "litellm"], "give either a spend-log CSV FILE or --dsn URL"),
        (
            ["ask", "--as", "nobody@example.com", "me"],
            "nobody@example.com is not in the directory",
        ),
        (["ask", "--as", "a@b.c", "--today", "someday", "me"], "is not a date"),
        (["people", "import", "missing.csv"], "no such file"),
        (["ingest", "nosuchsource"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_status_2(database, capsys, argv, message):
    capsys.readouterr()

    code = main(argv)

    assert code == 2
    assert message in _one_error_line(capsys)


def test_a_bad_import_keeps_what_is_stored(northwind, tmp_path, capsys):
    broken = tmp_path / "broken.csv"
    broken.write_text("date,email,tool,cost,colour\n2026-11-02,a@b.c,x,1,red\n")
    main(["ask", "--as", "maria.garcia@northwind.test", "team", "2026-W48"])
    before = capsys.readouterr().out

    assert main(["ingest", "csv", str(broken)]) == 2
    main(["ask", "--as", "maria.garcia@northwind.test", "team", "2026-W48"])

    assert capsys.readouterr().out.replace(before, "") == ""


def test_commands_before_db_upgrade_say_what_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")

    code = main(["ask", "--as", "a@b.c", "me"])

    assert code == 2
    assert "run `aispend db upgrade` first" in _one_error_line(capsys)


def test_an_unsupported_database_url_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "mysql://root@127.0.0.1/test")

    assert main(["ask", "--as", "a@b.c", "me"]) == 2
    assert "aispend runs on sqlite:// or postgresql://" in _one_error_line(capsys)


def test_demo_fills_an_empty_database_and_refuses_a_real_directory(database, capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "rejected:            0" in out
    assert main(["ask", "--as", "ada.abara@demo.example", "team", "last", "month"]) == 0
    assert "Team engineering" in capsys.readouterr().out

    main(["people", "import", str(NORTHWIND / "people.csv")])
    capsys.readouterr()
    assert main(["demo"]) == 2
    assert "already holds a directory" in _one_error_line(capsys)
