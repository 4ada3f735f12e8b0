"""Which source's cost counts for a tool, so one spend is never counted twice.

``[tools.authoritative]`` in the settings maps a tool to the source whose
cost is the real one (``cursor = "cursor"``). Rows of that tool from any
other source are kept, marked ``counted = false``, and left out of rollups;
they still show in reconciliation. Tools without an entry count from every
source.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import and_, not_, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from usage.errors import ConfigError
from usage.models import UsageRecord
from usage.settings import Settings


def authoritative_sources(settings: Settings) -> dict[str, str]:
    """The tool -> source map from the settings, checked."""
    raw = settings.get("tools.authoritative", {}) or {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(value, str) and value for value in raw.values()
    ):
        raise ConfigError(
            '[tools.authoritative] must map tool names to source names, such as cursor = "cursor"'
        )
    return {str(tool): value for tool, value in raw.items()}


def counts(authority: Mapping[str, str], *, tool: str, source: str) -> bool:
    """Whether ``source``'s cost for ``tool`` counts toward spend."""
    owner = authority.get(tool)
    return owner is None or owner == source


async def settle_authority(
    session: AsyncSession, authority: Mapping[str, str]
) -> set[date]:
    """Bring every record's ``counted`` flag in line with ``authority``.

    Returns the days whose rollups must be rebuilt because a flag changed.
    """
    # TODO: this runs when a source finishes an import, so a changed
    # [tools.authoritative] shows only after the next import, because settings
    # changes do not trigger a rollup rebuild yet.
    r = UsageRecord
    should_count = or_(
        r.tool.not_in(list(authority)) if authority else true(),
        *(
            and_(r.tool == tool, r.source == source)
            for tool, source in authority.items()
        ),
    )
    wrong = or_(
        and_(should_count, not_(r.counted)),
        and_(not_(should_count), r.counted),
    )
    days = set((await session.execute(select(r.day).where(wrong).distinct())).scalars())
    if days:
        await session.execute(
            update(r).where(wrong).values(counted=should_count),
            execution_options={"synchronize_session": False},
        )
    return days
