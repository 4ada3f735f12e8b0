"""Inserting many new event records at once, through a temporary staging table.

A chunk of records is loaded into a temporary table that has no indexes, then
moved into the real table by one ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING RETURNING``, so the database itself says which keys were new. Loading
is the one step that differs between the databases, and it lives here:
PostgreSQL takes the chunk through ``COPY`` (psycopg's, on the session's own
connection and transaction), SQLite through one ``executemany``.

Rows bypass SQLAlchemy's per-row parameter handling, so each column's bind
processor (UTC instants, booleans, SQLite's date strings) is applied here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import itemgetter

import psycopg
from sqlalchemy import Column, MetaData, Table, delete, select, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable

KEY_COLUMNS = ("source", "source_key")


class StagedInsert:
    """Inserts chunks of records into ``table``, skipping keys already stored."""

    def __init__(self, session: AsyncSession, table: Table, columns: Sequence[str]):
        self.session = session
        self.columns = tuple(columns)
        self.staging = _staging_table(table, self.columns)
        self._created = False
        dialect = session.bind.dialect
        self._getter = itemgetter(*self.columns)
        self._processors = [
            (index, processor)
            for index, name in enumerate(self.columns)
            if (processor := _bind_processor(table.c[name], dialect)) is not None
        ]
        self._move = _move_statement(dialect.name, table, self.staging, self.columns)

    @staticmethod
    def for_session(
        session: AsyncSession, table: Table, columns: Sequence[str]
    ) -> StagedInsert:
        """The staging insert that fits the session's database."""
        if session.bind.dialect.name == "postgresql":
            return PostgresStagedInsert(session, table, columns)
        return SqliteStagedInsert(session, table, columns)

    async def insert_new(self, records: Sequence[dict]) -> set[str]:
        """Insert the records whose key is not stored yet; return those keys."""
        if not self._created:
            await self.session.execute(CreateTable(self.staging, if_not_exists=True))
            self._created = True
        await self._load(records)
        result = await self.session.execute(self._move)
        inserted = set(result.scalars())
        await self._clear()
        return inserted

    def _rows(self, records: Sequence[dict]) -> Iterator[tuple]:
        """Each record as a tuple in column order, ready for the driver."""
        getter, processors = self._getter, self._processors
        for record in records:
            row = getter(record)
            if processors:
                values = list(row)
                for index, processor in processors:
                    values[index] = processor(values[index])
                row = tuple(values)
            yield row

    async def _load(self, records: Sequence[dict]) -> None:
        raise NotImplementedError

    async def _clear(self) -> None:
        raise NotImplementedError


class PostgresStagedInsert(StagedInsert):
    """COPY into a temporary table that is dropped when the transaction ends."""

    async def _load(self, records: Sequence[dict]) -> None:
        names = ", ".join(f'"{name}"' for name in self.columns)
        statement = f'COPY "{self.staging.name}" ({names}) FROM STDIN'
        connection = await self.session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        try:
            async with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in self._rows(records):
                    await copy.write_row(row)
        except psycopg.Error as exc:
            # Raised like every other statement's error, so callers see one kind.
            raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc

    async def _clear(self) -> None:
        # TRUNCATE, not DELETE: nothing vacuums a temporary table, so deleted
        # rows would pile up and every later chunk would scan them again.
        await self.session.execute(text(f'TRUNCATE "{self.staging.name}"'))


class SqliteStagedInsert(StagedInsert):
    """executemany into a temporary table of the connection (SQLite has no ON COMMIT)."""

    async def _load(self, records: Sequence[dict]) -> None:
        marks = ", ".join("?" for _ in self.columns)
        names = ", ".join(f'"{name}"' for name in self.columns)
        statement = f'INSERT INTO "{self.staging.name}" ({names}) VALUES ({marks})'
        connection = await self.session.connection()
        await connection.exec_driver_sql(statement, list(self._rows(records)))

    async def _clear(self) -> None:
        # Emptied after every chunk, so nothing stays on a pooled connection.
        await self.session.execute(delete(self.staging))


def _staging_table(table: Table, columns: Sequence[str]) -> Table:
    """A temporary twin of ``table`` with only ``columns`` and no constraints."""
    return Table(
        f"staged_{table.name}",
        MetaData(),
        *(Column(name, table.c[name].type) for name in columns),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )


def _bind_processor(column: Column, dialect):
    """The column's bind processor for ``dialect``, or None when values pass as they are."""
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return None if processor is None else _repeating(processor)


def _repeating(processor):
    """``processor``, answering a value equal to the one before from memory.

    Consecutive rows often share a value (the import's time, the day of rows
    read in time order), and SQLite's date and time processors format strings.
    """
    last_value, last_result = object(), None

    def process(value):
        nonlocal last_value, last_result
        if value != last_value:
            last_value, last_result = value, processor(value)
        return last_result

    return process


def _move_statement(dialect: str, table: Table, staging: Table, columns):
    """INSERT the staged rows whose key is new, returning the keys that went in."""
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    # SQLite needs a WHERE before ON CONFLICT to tell it from a join's ON.
    rows = select(*(staging.c[name] for name in columns)).where(true())
    return (
        insert.from_select(list(columns), rows)
        .on_conflict_do_nothing(index_elements=list(KEY_COLUMNS))
        .returning(table.c.source_key)
    )
