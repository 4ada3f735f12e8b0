"""Whatever follows ``/aispend``, the answer is a reply: never an exception,
never a stack trace, always valid Block Kit with a text fallback."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands import answer, to_plain_text
from tests.blockkit import assert_valid_message
from tests.conftest import _sqlite
from tests.northwind import TODAY, load_gateway_and_sheet, person

ASKERS = (
    "hana.sato@northwind.test",  # admin
    "maria.garcia@northwind.test",  # manager
    "ana.ruiz@northwind.test",  # member
)
WORDS = [
    "me",
    "team",
    "org",
    "budget",
    "tools",
    "models",
    "sources",
    "help",
    "settings",
    "optout",
    "optin",
    "snooze",
    "admin",
    "set",
    "privacy",
    "exclude",
    "include",
    "audit",
    "show",
    "nudges",
    "digest",
    "individuals",
    "aggregate",
    "off",
    "on",
    "platform",
    "payments",
    "mobile",
    "engineering",
    "nobody",
    "this",
    "last",
    "week",
    "month",
    "days",
    "today",
    "yesterday",
    "november",
    "2026-W47",
    "2026-11",
    "2026-11-02..2026-11-08",
    "2026-13",
    "W99",
    "30",
    "7",
    "-5",
    "1,500",
    "$75",
    "0.8",
    "nudges.floor_usd",
    "nudges.enabled",
    "privacy.manager_view",
    "pricing.price_table",
    "teams.x",
    "ana.ruiz@northwind.test",
    "<@U0NW00004|ana>",
    "<@W0NW00012>",
    "<@UNOBODY>",
    "@ana.ruiz",
    "@",
    "<!channel>",
    "<!here>",
    "&",
    "<",
    ">",
    "*",
    "_",
    "`",
    "~",
    "…",
    "🙂",
    "\\",
    "'",
    '"',
    ";",
    "--",
    "DROP",
]
texts = st.one_of(
    st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join),
    st.text(max_size=120),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=6).map(
        " ".join
    ),
)


async def _open(path):
    source = _sqlite(path)
    database = await anext(source)
    await load_gateway_and_sheet(database)
    people = [await person(database.sessions, email) for email in ASKERS]
    return source, database, people


async def _ask(database, asker, text):
    async with database.sessions() as session:
        return await answer(
            session, asker=asker, text=text, today=TODAY, slack_user_id="U0TEST"
        )


def test_any_text_gets_a_reply_and_never_an_error(tmp_path):
    seen: list[str] = []
    loop = asyncio.new_event_loop()
    source, database, people = loop.run_until_complete(_open(tmp_path))

    @settings(
        max_examples=2000,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(text=texts, who=st.integers(min_value=0, max_value=len(ASKERS) - 1))
    def check(text, who):
        seen.append(text)
        message = loop.run_until_complete(_ask(database, people[who], text))
        shown = to_plain_text(message)

        assert_valid_message(message)
        assert "Traceback" not in shown
        assert "went wrong on our side" not in shown, (text, shown)

    try:
        check()
    finally:
        loop.run_until_complete(anext(source, None))
        loop.close()
    assert len(set(seen)) > 1000  # the examples really ran, and varied
