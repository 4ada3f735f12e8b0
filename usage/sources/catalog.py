"""The known sources and how fresh each one is, for ``aispend sources``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from usage.models import SourceState
from usage.settings import Settings

KNOWN: dict[str, str] = {
    "anthropic": "Anthropic usage report (tool anthropic-api)",
    "anthropic-costs": "Anthropic cost report (billed, for reconciliation)",
    "openai": "OpenAI completions usage (tool openai-api)",
    "openai-costs": "OpenAI costs (billed, for reconciliation)",
    "claude-code": "Claude Code analytics (tool claude-code, output context)",
    "cursor": "Cursor usage events (tool cursor)",
    "litellm": "LiteLLM proxy spend logs (tool api-gateway)",
    "csv": "spreadsheet imports",
}


@dataclass(frozen=True)
class SourceStatus:
    source: str
    description: str
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    covered_from: date | None
    covered_to: date | None
    rows: int
    last_error: str | None

    @property
    def pulled(self) -> bool:
        return self.last_attempt_at is not None


def describe(source: str) -> str:
    if source.startswith("github:"):
        return f"GitHub merged pull requests of {source.split(':', 1)[1]} (output)"
    return KNOWN.get(source, "imported source")


async def source_statuses(
    session: AsyncSession, *, settings: Settings | None = None
) -> list[SourceStatus]:
    """Every known, configured or pulled source with its last pull and coverage."""
    states = {
        state.source: state
        for state in (await session.execute(select(SourceState))).scalars()
    }
    names = list(KNOWN)
    configured = (settings.get("sources", {}) if settings else {}) or {}
    names += [name for name in configured if name not in names]
    names += sorted(name for name in states if name not in names)
    return [_status(name, states.get(name)) for name in names]


def _status(name: str, state: SourceState | None) -> SourceStatus:
    return SourceStatus(
        source=name,
        description=describe(name),
        last_success_at=state.last_success_at if state else None,
        last_attempt_at=state.last_attempt_at if state else None,
        covered_from=state.covered_from if state else None,
        covered_to=state.covered_to if state else None,
        rows=(state.rows_total or 0) if state else 0,
        last_error=state.last_error if state else None,
    )
