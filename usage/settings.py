"""Settings: built-in defaults, then the TOML file (``AISPEND_CONFIG``), then
values admins changed at run time (stored in the database, audited)."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from usage import revisions
from usage.errors import ConfigError
from usage.models import AuditEntry, Setting, utcnow

DEFAULTS: dict[str, Any] = {
    "organisation": {"name": "", "reporting_timezone": "UTC"},
    "pricing": {"price_table": ""},
    # "aggregate": managers see team totals only; "individuals": their reports too.
    # min_group_size: a team or sub-team line covering fewer people is shown only
    # where individual figures are allowed, since it would be one person's spend.
    "privacy": {"manager_view": "aggregate", "min_group_size": 3},
    "admins": {"slack_user_ids": [], "usergroup": ""},
    # Rename a source's default tool label: {"api-gateway": "LiteLLM"}.
    "tools": {"labels": {}, "authoritative": {}},
    "sources": {},
    "nudges": {
        "enabled": True,
        "absolute_usd": 0,
        "multiple_of_usual": 2.5,
        "floor_usd": 50,
        "tool_cap_usd": 1500,
        "tool_cap_share": 0.8,
        "preferred_tool": "",
        "preferred_model": "",
    },
    "digest": {"weekday": "mon", "time": "09:00"},
    "alerts": {"channel": "", "spike_multiple": 3.0, "spike_floor_usd": 100},
    "excluded": {"emails": []},
}


def _merge(base: dict, extra: Mapping) -> dict:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


_read_files: dict[tuple[str, int, int], dict[str, Any]] = {}


def read_file(path: str | os.PathLike | None) -> dict[str, Any]:
    """Read the TOML settings file; a missing or broken file is a ConfigError.

    The parsed file is kept while its size and modification time stay the same.
    """
    if not path:
        return {}
    try:
        stat = os.stat(path)
        key = (os.fspath(path), stat.st_mtime_ns, stat.st_size)
        if key not in _read_files:
            _read_files.clear()
            _read_files[key] = tomllib.loads(Path(path).read_text("utf-8"))
        return copy.deepcopy(_read_files[key])
    except OSError as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from exc


class Settings:
    """Effective settings, read by dotted path: ``settings.get("nudges.floor_usd")``."""

    def __init__(self, values: dict[str, Any], *, base_dir: Path | None = None):
        self.values = values
        self.base_dir = base_dir or Path.cwd()

    def get(self, path: str, default: Any = None) -> Any:
        node: Any = self.values
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def reporting_zone(self) -> ZoneInfo:
        name = self.get("organisation.reporting_timezone") or "UTC"
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"organisation.reporting_timezone {name!r} is not an IANA time zone"
            ) from exc

    def tool_label(self, tool: str) -> str:
        return self.get("tools.labels", {}).get(tool, tool)

    def path(self, dotted: str) -> Path | None:
        """A file path setting, relative to the settings file's folder."""
        value = self.get(dotted)
        if not value:
            return None
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path


def file_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Defaults plus the settings file, without database overrides."""
    env = os.environ if env is None else env
    path = env.get("AISPEND_CONFIG")
    values = _merge(copy.deepcopy(DEFAULTS), read_file(path))
    _check(values, path)
    base_dir = Path(path).resolve().parent if path else None
    return Settings(values, base_dir=base_dir)


CHOICES = {"privacy.manager_view": ("aggregate", "individuals")}


def _check(values: dict, path) -> None:
    """Refuse a settings file whose choices are not among the known ones."""
    settings = Settings(values)
    for key, allowed in CHOICES.items():
        value = settings.get(key)
        if value not in allowed:
            raise ConfigError(
                f"settings file {path}: {key} is {value!r}; use one of {', '.join(allowed)}"
            )


async def load_settings(
    session: AsyncSession, *, base: Settings | None = None
) -> Settings:
    """Effective settings: defaults, the file, then admins' stored changes."""
    base = base or file_settings()
    values = copy.deepcopy(base.values)
    for key, value in await revisions.kept(session, "settings", _stored):
        _set_path(values, key, copy.deepcopy(value))
    return Settings(values, base_dir=base.base_dir)


async def _stored(session: AsyncSession) -> tuple[tuple[str, Any], ...]:
    rows = (await session.execute(select(Setting.key, Setting.value))).all()
    return tuple((key, value.get("value")) for key, value in rows)


def _set_path(values: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = values
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


async def store_setting(
    session: AsyncSession, *, key: str, value: Any, actor: str
) -> None:
    """Save an admin's change to one setting and write it to the audit log."""
    row = await session.get(Setting, key)
    old = row.value.get("value") if row else None
    if row is None:
        session.add(Setting(key=key, value={"value": value}, updated_by=actor))
    else:
        row.value = {"value": value}
        row.updated_at = utcnow()
        row.updated_by = actor
    session.add(
        AuditEntry(
            actor=actor,
            action="setting.change",
            detail={"key": key, "old": old, "new": value},
        )
    )
