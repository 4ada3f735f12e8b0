"""Answer time for me, team, org and budget: data and rendering, no network."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

from sqlalchemy import select

from bench.generate import Org
from bench.measure import Timings, timed_calls
from commands import answer
from usage.models import Person

QUESTIONS = {
    "me": "me last week",
    "team": "team last week",
    "org": "org last week",
    "budget": "budget",
}


async def answer_timings(
    sessions, org: Org, *, calls: int, questions: tuple[str, ...] = tuple(QUESTIONS)
) -> dict[str, Timings]:
    """``calls`` answers per question, each for a random person, in fresh sessions."""
    today = org.end - timedelta(days=1)
    rng = random.Random(11)
    results = {}
    for name in questions:
        text = QUESTIONS[name]

        async def one(_index: int, text=text) -> None:
            email = org.email(rng.randrange(org.people))
            async with sessions() as session:
                asker = (
                    await session.execute(select(Person).where(Person.email == email))
                ).scalar_one()
                message = await answer(session, asker=asker, text=text, today=today)
            json.dumps(message.payload())

        await one(0)  # warm caches once, as a running bot would be
        results[name] = await timed_calls(one, calls)
    return results


def answer_day(org: Org) -> date:
    return org.end - timedelta(days=1)
