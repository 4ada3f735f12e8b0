"""What a process may keep between questions: things read from the directory or
the settings tables, kept until the tables' revision value changes.

Every write to those tables sets a new revision value in the same transaction
(database triggers, see ``usage.models.revision_ddl``), so another process's
directory import or an admin's change is seen by the next question. The value
is read before what it guards, so a kept copy is never older than its value.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from usage.models import Revision

T = TypeVar("T")

# One kept copy per database (engine) and revision name: (value, what was read).
_kept: weakref.WeakKeyDictionary[Any, dict[str, tuple[int, Any]]] = (
    weakref.WeakKeyDictionary()
)


async def current(session: AsyncSession, name: str) -> int | None:
    """The revision value of ``name`` as this session's transaction sees it."""
    statement = select(Revision.value).where(Revision.name == name)
    return (await (await session.connection()).execute(statement)).scalar()


async def kept(
    session: AsyncSession,
    name: str,
    load: Callable[[AsyncSession], Awaitable[T]],
) -> T:
    """``load(session)``, or the copy kept from an earlier call while the ``name``
    revision is unchanged. What ``load`` returns is shared, so it must not be
    changed by its users."""
    value = await current(session, name)
    if value is None:  # a database without revision rows: nothing can be kept
        return await load(session)
    engine = session.sync_session.get_bind()
    store = _kept.setdefault(engine, {})
    found = store.get(name)
    if found is not None and found[0] == value:
        return found[1]
    result = await load(session)
    store[name] = (value, result)
    return result
