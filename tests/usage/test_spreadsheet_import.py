import pytest
from sqlalchemy import select

from tests.conftest import NORTHWIND
from tests.northwind import load_directory
from usage.errors import ImportFileError
from usage.ingest import ingest_spreadsheet
from usage.models import UsageRecord
from usage.sources.tabular import BadValue, header_key, parse_count, parse_decimal


async def _records(db) -> list[UsageRecord]:
    async with db.sessions() as session:
        return list((await session.execute(select(UsageRecord))).scalars())


async def test_excel_export_with_bom_crlf_thousands_and_blank_rows(db, tmp_path):
    path = tmp_path / "costs.csv"
    path.write_bytes(
        b"\xef\xbb\xbfdate,user_email,model,cost_usd\r\n"
        b'2025-04-01,dev1@example.com,gpt-4o,"1,234.56"\r\n,,,\r\n'
    )

    report = await ingest_spreadsheet(db.sessions, path=path, tool="openai-web")

    [record] = await _records(db)
    assert (report.imported, report.blank) == (1, 1)
    assert str(record.day) == "2025-04-01"
    assert record.cost_micros == 1_234_560_000
    assert record.tool == "openai-web"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Cost (USD)", "cost_usd"),
        (" User Email ", "user_email"),
        ("cost_usd", "cost_usd"),
        ("DATE", "date"),
        ("Cost [USD]", "cost_usd"),
        ("user-email", "user_email"),
    ],
)
def test_headers_match_regardless_of_case_spacing_and_units(raw, key):
    assert header_key(raw) == key


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234.56", "1234.56"),
        ("$12.50", "12.50"),
        ("0,75", "0.75"),
        ("1,200", "1200"),
        ("  42 ", "42"),
        ("", None),
        ("null", None),
    ],
)
def test_numbers_as_spreadsheets_write_them(text, value):
    parsed = parse_decimal(text)

    assert (str(parsed) if parsed is not None else None) == value


def test_counts_must_be_whole():
    with pytest.raises(BadValue):
        parse_count("1.5")
    assert parse_count("1,200") == 1200


async def test_fixture_sheet_imports_every_row_and_skips_blank_ones(db):
    await load_directory(db)

    report = await ingest_spreadsheet(
        db.sessions, path=NORTHWIND / "tool_costs.csv", tool=None
    )

    assert (report.rows_read, report.imported, report.blank, report.rejected) == (
        20,
        16,
        4,
        [],
    )
    assert report.unattributed == 0


async def test_reimporting_a_sheet_replaces_its_rows(db):
    await ingest_spreadsheet(db.sessions, path=NORTHWIND / "tool_costs.csv", tool=None)
    before = sum(r.cost_micros for r in await _records(db))

    again = await ingest_spreadsheet(
        db.sessions, path=NORTHWIND / "tool_costs.csv", tool=None
    )

    assert again.imported == 0 and again.replaced == 16
    assert sum(r.cost_micros for r in await _records(db)) == before


async def test_corrected_sheet_replaces_the_old_figure(db, tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text("date,email,tool,cost\n2025-04-01,a@example.com,x,4.00\n")
    await ingest_spreadsheet(db.sessions, path=path, tool=None)
    path.write_text("date,email,tool,cost\n2025-04-01,a@example.com,x,6.00\n")

    await ingest_spreadsheet(db.sessions, path=path, tool=None)

    assert [r.cost_micros for r in await _records(db)] == [6_000_000]


async def test_unknown_column_refuses_the_file_and_stores_nothing(db, tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text("date,email,tool,cost,flavour\n2025-04-01,a@example.com,x,1,mint\n")

    with pytest.raises(
        ImportFileError, match="column 'flavour' is not one aispend reads"
    ):
        await ingest_spreadsheet(db.sessions, path=path, tool=None)
    assert await _records(db) == []


async def test_a_sheet_without_tool_needs_the_tool_flag(db, tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text("date,email,cost\n2025-04-01,a@example.com,1\n")

    with pytest.raises(ImportFileError, match="--tool"):
        await ingest_spreadsheet(db.sessions, path=path, tool=None)


async def test_day_first_dates_are_proved_by_the_column_not_guessed_per_cell(
    db, tmp_path
):
    path = tmp_path / "costs.csv"
    path.write_text(
        "date,email,tool,cost\n03/04/2025,a@example.com,x,1\n13/04/2025,a@example.com,x,2\n"
    )

    await ingest_spreadsheet(db.sessions, path=path, tool=None)

    assert sorted(str(r.day) for r in await _records(db)) == [
        "2025-04-03",
        "2025-04-13",
    ]


async def test_dates_that_could_be_either_way_are_refused(db, tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text("date,email,tool,cost\n03/04/2025,a@example.com,x,1\n")

    with pytest.raises(ImportFileError, match="day-first or month-first"):
        await ingest_spreadsheet(db.sessions, path=path, tool=None)


async def test_a_column_with_no_readable_dates_is_refused(db, tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text("date,email,tool,cost\nlast tuesday,a@example.com,x,1\n")

    with pytest.raises(ImportFileError, match="no dates aispend can read"):
        await ingest_spreadsheet(db.sessions, path=path, tool=None)


async def test_bad_rows_are_reported_by_line_and_the_rest_goes_in(db, tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text(
        "date,email,tool,cost\n"
        "2025-04-01,a@example.com,x,1\n"
        "2025-04-31,a@example.com,x,1\n"
        "2025-04-02,a@example.com,x,-5\n"
        "2025-04-03,,x,9\n"
        "2025-04-04,a@example.com,x,abc\n"
    )

    report = await ingest_spreadsheet(db.sessions, path=path, tool=None)

    assert report.imported == 1
    assert sorted(where for where, _ in report.rejected) == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]


async def test_token_columns_are_priced_and_prompt_tokens_include_the_cache(
    db, tmp_path
):
    path = tmp_path / "usage.csv"
    path.write_text(
        "date,email,tool,model,prompt_tokens,cache_read_tokens,output_tokens\n"
        "2025-04-01,a@example.com,x,claude-sonnet-4-5,52000,50000,1000\n"
    )

    await ingest_spreadsheet(db.sessions, path=path, tool=None)

    [record] = await _records(db)
    assert record.input_tokens == 2_000
    assert record.cost_micros == 6_000 + 15_000 + 15_000


async def test_missing_file_is_a_clear_error(db, tmp_path):
    with pytest.raises(ImportFileError, match="no such file"):
        await ingest_spreadsheet(db.sessions, path=tmp_path / "nope.csv", tool="x")
