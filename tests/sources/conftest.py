"""Fixtures for source tests: the Northwind directory and a settings file with its prices."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import NORTHWIND
from usage.db import session_scope
from usage.directory import import_directory


@pytest.fixture
def settings_file(tmp_path, monkeypatch):
    """Write the settings file (Northwind prices plus ``extra`` TOML) and point at it."""

    def write(extra: str = "") -> Path:
        path = tmp_path / "aispend.toml"
        prices = (NORTHWIND / "prices.json").as_posix()
        path.write_text(f'[pricing]\nprice_table = "{prices}"\n{extra}\n', "utf-8")
        monkeypatch.setenv("AISPEND_CONFIG", str(path))
        return path

    write()
    return write


@pytest_asyncio.fixture
async def northwind(db, settings_file):
    """A database holding the Northwind people and teams."""
    async with session_scope(db.sessions) as session:
        await import_directory(
            session,
            people_path=NORTHWIND / "people.csv",
            teams_path=NORTHWIND / "teams.csv",
        )
    return db
