from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from tests.conftest import NORTHWIND, PG_URL
from tests.northwind import load_directory, use_northwind_prices
from usage import store
from usage.errors import ImportFileError
from usage.ingest import ingest_litellm_database, ingest_litellm_file
from usage.models import SourceState, SpendRollup, UsageRecord
from usage.staging import StagedInsert

HEADER = (
    "request_id,startTime,model,user,spend,prompt_tokens,completion_tokens,status\n"
)


@pytest.fixture(autouse=True)
def northwind_prices(monkeypatch, tmp_path):
    use_northwind_prices(monkeypatch, tmp_path)


async def _record(db, request_id: str) -> UsageRecord:
    async with db.sessions() as session:
        query = select(UsageRecord).where(UsageRecord.source_key == request_id)
        return (await session.execute(query)).scalar_one()


async def _org_total(db) -> int:
    async with db.sessions() as session:
        query = select(func.sum(SpendRollup.cost_micros)).where(
            SpendRollup.scope_kind == "org"
        )
        return int((await session.execute(query)).scalar() or 0)


async def test_fixture_export_reports_duplicates_rejects_and_unpriced(db):
    await load_directory(db)

    report = await ingest_litellm_file(
        db.sessions, path=NORTHWIND / "litellm_spend_logs.csv"
    )

    assert report.rows_read == 1014
    assert report.duplicates == 1
    assert report.rejected == [
        ("line 553", "negative token count; spend is never reduced")
    ]
    assert report.unpriced == 1
    assert report.imported == 1012


async def test_streamed_request_with_zero_spend_is_priced_from_its_tokens(db):
    await load_directory(db)
    await ingest_litellm_file(db.sessions, path=NORTHWIND / "litellm_spend_logs.csv")

    record = await _record(db, "chatcmpl-nostream1")

    assert (record.cost_micros, record.cost_origin) == (165_000, "computed")


async def test_unknown_model_is_kept_unpriced_with_its_tokens(db):
    await load_directory(db)
    await ingest_litellm_file(db.sessions, path=NORTHWIND / "litellm_spend_logs.csv")

    record = await _record(db, "chatcmpl-nounknown1")

    assert record.cost_micros is None
    assert record.cost_origin == "unpriced"
    assert record.input_tokens + record.output_tokens == 52_000


async def test_reimporting_the_export_changes_no_total(db):
    await load_directory(db)
    await ingest_litellm_file(db.sessions, path=NORTHWIND / "litellm_spend_logs.csv")
    before = await _org_total(db)

    again = await ingest_litellm_file(
        db.sessions, path=NORTHWIND / "litellm_spend_logs.csv"
    )

    assert again.imported == 0
    assert again.duplicates == 1013
    assert await _org_total(db) == before


async def test_same_request_in_two_exports_counts_once(db, tmp_path):
    # Two overlapping exports of a gateway both hold request chatcmpl-1.
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER
        + "chatcmpl-1,2025-04-01T10:00:00Z,gpt-4o,alice@example.com,0.50,10,10,success\n"
    )

    await ingest_litellm_file(db.sessions, path=path)
    await ingest_litellm_file(db.sessions, path=path)

    assert await _org_total(db) == 500_000


async def test_missing_and_malformed_numbers_are_handled_row_by_row(db, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER
        + "r-blank,2025-04-01T10:00:00Z,gpt-4o,a@example.com,0.01,,100,success\n"
        + "r-null,2025-04-01T10:00:00Z,gpt-4o,a@example.com,0.0042,null,null,success\n"
        + "r-neg,2025-04-01T10:00:00Z,gpt-4o,a@example.com,0.01,100,-100,success\n"
        + 'r-comma,2025-04-01T10:00:00Z,claude-haiku-4-5,a@example.com,,"1,200",0,success\n'
    )

    report = await ingest_litellm_file(db.sessions, path=path)

    assert report.imported == 3
    assert [where for where, _ in report.rejected] == ["line 4"]
    assert ("line 2", "prompt_tokens is blank; read as 0") in report.flagged
    assert (await _record(db, "r-blank")).input_tokens == 0
    assert (await _record(db, "r-null")).cost_micros == 4_200
    comma = await _record(db, "r-comma")
    assert comma.input_tokens == 1_200
    assert comma.cost_micros == 1_200  # 1200 x $1/M, priced because spend is blank


async def test_gateway_prompt_tokens_lose_their_cache_counts_before_pricing(
    db, tmp_path
):
    # prompt_tokens=62000 holds 50000 cache reads and 10000 cache writes.
    path = tmp_path / "export.csv"
    path.write_text(
        "request_id,startTime,model,user,spend,prompt_tokens,completion_tokens,"
        "cache_read_input_tokens,cache_creation_input_tokens\n"
        "r1,2025-04-01T10:00:00Z,claude-sonnet-4-5,a@example.com,,62000,1000,50000,10000\n"
    )

    await ingest_litellm_file(db.sessions, path=path)

    record = await _record(db, "r1")
    assert record.input_tokens == 2_000
    assert record.cost_micros == 73_500


async def test_a_failed_request_is_not_priced_from_tokens(db, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER + "r1,2025-04-01T10:00:00Z,gpt-4o,a@example.com,0,5000,0,failure\n"
    )

    await ingest_litellm_file(db.sessions, path=path)

    assert (await _record(db, "r1")).cost_micros == 0


async def test_a_bad_start_time_rejects_only_its_row(db, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER
        + "r1,yesterday,gpt-4o,a@example.com,0.01,1,1,success\n"
        + "r2,2025-04-01T10:00:00Z,gpt-4o,a@example.com,0.01,1,1,success\n"
    )

    report = await ingest_litellm_file(db.sessions, path=path)

    assert report.imported == 1
    assert report.rejected[0][0] == "line 2"


async def test_a_file_that_is_no_spend_log_is_refused_whole(db):
    with pytest.raises(
        ImportFileError, match="column 'email' is not one aispend reads"
    ):
        await ingest_litellm_file(db.sessions, path=NORTHWIND / "people.csv")


async def _spendlogs_schema(db) -> str:
    """A LiteLLM-like database: the proxy's table, filled from the fixture export."""
    import csv

    schema = f"litellm_{abs(hash(db.url)) % 10**8}"
    with (NORTHWIND / "litellm_spend_logs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    async with db.engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await connection.execute(
            text(
                f'CREATE TABLE "{schema}"."LiteLLM_SpendLogs" (request_id text, "startTime" '
                'timestamp(3) without time zone, model text, "user" text, end_user text, '
                "spend double precision, "
                "prompt_tokens integer, completion_tokens integer, status text, metadata jsonb)"
            )
        )
        for row in rows[:400]:
            await connection.execute(
                text(
                    f'INSERT INTO "{schema}"."LiteLLM_SpendLogs" VALUES (:id, :start, :model, '
                    ":user, NULL, :spend, :prompt, :completion, :status, '{}')"
                ),
                {
                    "id": row["request_id"],
                    # The proxy keeps startTime as a UTC timestamp without a zone.
                    "start": datetime.fromisoformat(row["startTime"].replace("Z", "")),
                    "model": row["model"],
                    "user": row["user"],
                    "spend": float(row["spend"]) if row["spend"] else None,
                    "prompt": int(row["prompt_tokens"]),
                    "completion": int(row["completion_tokens"]),
                    "status": row["status"],
                },
            )
    return schema


async def test_database_pull_matches_the_export_and_is_incremental(db):
    if db.backend != "postgresql":
        pytest.skip("the LiteLLM proxy keeps its spend logs in PostgreSQL")
    await load_directory(db)
    schema = await _spendlogs_schema(db)
    dsn = f"{PG_URL}?options=-csearch_path%3D{schema}"

    first = await ingest_litellm_database(db.sessions, dsn=dsn, since=None)
    second = await ingest_litellm_database(db.sessions, dsn=dsn, since=None)

    assert first.imported == first.rows_read - first.duplicates - len(first.rejected)
    assert second.imported == 0
    assert second.rows_read < first.rows_read  # read from the stored watermark
    async with db.sessions() as session:
        state = await session.get(SourceState, "litellm")
        assert datetime.fromisoformat(state.cursor) > datetime(2026, 11, 1, tzinfo=UTC)
        total = (
            await session.execute(
                select(func.sum(UsageRecord.cost_micros)).where(
                    UsageRecord.source == "litellm"
                )
            )
        ).scalar()
        first_row = (
            await session.execute(
                select(UsageRecord).where(UsageRecord.source_key == "chatcmpl-no000410")
            )
        ).scalar_one()
    assert total > 0
    assert first_row.occurred_at == datetime(2026, 11, 13, 23, 3, 11, tzinfo=UTC)
    async with db.engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


async def test_database_pull_from_a_database_without_spend_logs_is_a_clear_error(db):
    if db.backend != "postgresql":
        pytest.skip("needs PostgreSQL")

    with pytest.raises(ImportFileError, match="LiteLLM_SpendLogs"):
        await ingest_litellm_database(db.sessions, dsn=db.url, since=None)


def test_decimal_spend_is_read_exactly():
    from usage.sources.litellm import read_row
    from usage.store import ImportReport

    report = ImportReport(source="t", origin="t")
    row = read_row(
        {
            "request_id": "x",
            "start": "2025-01-01T00:00:00Z",
            "model": "m",
            "user": "a@b.c",
            "spend": 0.1 + 0.2,
        },
        location="x",
        report=report,
    )

    assert row.source_cost == Decimal("0.30000000000000004")


async def test_numbers_too_large_to_be_real_are_rejected_row_by_row(db, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER
        + "r1,2025-04-01T10:00:00Z,gpt-4o,a@example.com,1e30,1,1,success\n"
        + "r2,2025-04-01T10:00:00Z,gpt-4o,a@example.com,0.01,99999999999999999999,1,success\n"
        + "r3,2025-04-01T10:00:00Z,gpt-4o,a@example.com,0.01,1e400,1,success\n"
        + "r4,2025-04-01T10:00:00Z,gpt-4o,a@example.com,0.01,²,1,success\n"
        + f"r5,2025-04-01T10:00:00Z,{'m' * 300},a@example.com,0.01,1,1,success\n"
        + "r6,2025-04-01T10:00:00Z,gpt-\x004o,a@example.com,0.01,1,1,success\n"
        + "r7,2099-04-01T10:00:00Z,gpt-4o,a@example.com,0.01,1,1,success\n"
    )

    report = await ingest_litellm_file(db.sessions, path=path)

    assert report.imported == 1
    assert sorted(where for where, _ in report.rejected) == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 8",
    ]
    assert (await _record(db, "r6")).model == "gpt-4o"


async def _stored(db) -> tuple[int, int, int]:
    """Records, spend rollup rows and the org total, to compare before and after."""
    async with db.sessions() as session:
        records = await session.scalar(select(func.count()).select_from(UsageRecord))
        rollups = await session.scalar(select(func.count()).select_from(SpendRollup))
    return records, rollups, await _org_total(db)


def _export(path, request_ids: range) -> None:
    """Requests ``r<i>`` over three days, each with its own spend of $0.01 x (i + 1)."""
    lines = [
        f"r{i},2025-04-0{1 + i % 3}T10:00:00Z,gpt-4o,a@example.com,"
        f"{(i + 1) / 100:.2f},1,1,success\n"
        for i in request_ids
    ]
    path.write_text(HEADER + "".join(lines))


async def test_an_export_read_in_many_chunks_reports_what_one_chunk_does(
    db, monkeypatch
):
    # The fixture's repeated request lands in a later chunk than its first copy.
    monkeypatch.setattr("usage.ingest.CHUNK", 7)
    await load_directory(db)

    report = await ingest_litellm_file(
        db.sessions, path=NORTHWIND / "litellm_spend_logs.csv"
    )

    assert (report.rows_read, report.imported, report.duplicates) == (1014, 1012, 1)
    assert report.rejected == [
        ("line 553", "negative token count; spend is never reduced")
    ]
    assert report.unpriced == 1
    assert report.unpriced_models == {"claude-sonnet-9-20990101": 1}
    assert (await _stored(db))[0] == 1012


async def test_reimporting_in_chunks_counts_every_row_as_a_duplicate_and_changes_nothing(
    db, monkeypatch
):
    monkeypatch.setattr("usage.ingest.CHUNK", 50)
    await load_directory(db)
    path = NORTHWIND / "litellm_spend_logs.csv"
    await ingest_litellm_file(db.sessions, path=path)
    before = await _stored(db)

    again = await ingest_litellm_file(db.sessions, path=path)

    assert (again.rows_read, again.imported, again.duplicates) == (1014, 0, 1013)
    assert [where for where, _ in again.rejected] == ["line 553"]
    assert (again.unpriced, again.unattributed) == (0, 0)
    assert await _stored(db) == before


async def test_an_export_overlapping_an_earlier_one_adds_only_its_new_requests(
    db, tmp_path
):
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    _export(first, range(0, 6))
    _export(second, range(3, 9))
    await ingest_litellm_file(db.sessions, path=first)

    report = await ingest_litellm_file(db.sessions, path=second)

    assert (report.imported, report.duplicates) == (3, 3)
    records, _, total = await _stored(db)
    assert records == 9
    assert total == sum(range(1, 10)) * 10_000


def _fail_after(monkeypatch, owner, name: str, *, call: int) -> None:
    """Let ``owner.name`` do its work, then lose the connection on its ``call``-th use."""
    original = getattr(owner, name)
    calls = []

    async def failing(*args, **kwargs):
        result = await original(*args, **kwargs)
        calls.append(1)
        if len(calls) == call:
            raise OperationalError("INSERT", None, Exception("connection lost"))
        return result

    monkeypatch.setattr(owner, name, failing)


@pytest.mark.parametrize("where", ["third chunk", "rollup rebuild"])
async def test_an_import_that_fails_part_way_stores_nothing(
    db, monkeypatch, tmp_path, where
):
    # The failing step has already written its rows when the connection is lost.
    path = tmp_path / "export.csv"
    _export(path, range(40))
    monkeypatch.setattr("usage.ingest.CHUNK", 10)
    with monkeypatch.context() as patch:
        if where == "third chunk":
            _fail_after(patch, StagedInsert, "insert_new", call=3)
        else:
            _fail_after(patch, store, "rebuild_days", call=1)

        with pytest.raises(OperationalError):
            await ingest_litellm_file(db.sessions, path=path)

    assert await _stored(db) == (0, 0, 0)
    async with db.sessions() as session:
        assert await session.get(SourceState, "litellm") is None
    report = await ingest_litellm_file(db.sessions, path=path)
    assert (report.imported, report.duplicates) == (40, 0)
    assert (await _stored(db))[2] == sum(range(1, 41)) * 10_000


async def test_text_with_tabs_newlines_quotes_and_backslashes_is_stored_as_read(
    db, tmp_path
):
    path = tmp_path / "export.csv"
    path.write_text(
        HEADER
        + '"r\t1",2025-04-01T10:00:00Z,"gpt-4o\\\\x",a@example.com,0.01,1,1,success\n'
        + '"r\n2",2025-04-01T10:00:00Z,gpt-4o,"gw\\Nuser",0.01,1,1,success\n'
        + '"r\'3\\",2025-04-01T10:00:00Z,gpt-4o,a@example.com,0.01,1,1,success\n'
    )

    report = await ingest_litellm_file(db.sessions, path=path)

    assert report.imported == 3
    assert (await _record(db, "r\t1")).model == "gpt-4o\\\\x"
    assert (await _record(db, "r\n2")).identity == "gw\\Nuser"
    assert (await _record(db, "r'3\\")).cost_micros == 10_000
