from datetime import UTC, datetime, timedelta

from usage import ledger
from usage.ingest import begin_write

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def item(recipient="a@example.test", period="2026-W48"):
    return ledger.Planned("nudge", recipient, period, {"message": {"text": "hi"}})


async def test_planning_the_same_message_twice_keeps_one_entry(db):
    async with db.sessions() as session, session.begin():
        first = await ledger.plan(session, [item()], now=NOW)
        second = await ledger.plan(session, [item(), item(period="2026-W49")], now=NOW)

    async with db.sessions() as session:
        rows = await ledger.entries(session)
    assert (first, second) == (1, 1)
    assert [(r.period, r.state) for r in rows] == [
        ("2026-W48", "pending"),
        ("2026-W49", "pending"),
    ]


async def test_a_claimed_entry_cannot_be_claimed_again_until_its_claim_expires(db):
    async with db.sessions() as session, session.begin():
        await ledger.plan(session, [item()], now=NOW)
    async with db.sessions() as session:
        [entry_id] = await ledger.due_ids(session, now=NOW)

    async with db.sessions() as session, session.begin():
        await begin_write(session)
        mine = await ledger.claim(session, entry_id, worker="a", now=NOW)
    async with db.sessions() as session, session.begin():
        await begin_write(session)
        theirs = await ledger.claim(session, entry_id, worker="b", now=NOW)
    later = NOW + ledger.DEFAULT_CLAIM + timedelta(seconds=1)
    async with db.sessions() as session, session.begin():
        await begin_write(session)
        retaken = await ledger.claim(session, entry_id, worker="b", now=later)

    assert mine is not None and mine.attempts == 1
    assert theirs is None
    assert retaken is not None and retaken.claimed_by == "b"
    assert retaken.attempts == 2


async def test_only_the_claim_holder_can_finish_an_entry(db):
    async with db.sessions() as session, session.begin():
        await ledger.plan(session, [item()], now=NOW)
        [entry_id] = await ledger.due_ids(session, now=NOW)
        await ledger.claim(session, entry_id, worker="a", now=NOW)

    async with db.sessions() as session, session.begin():
        stolen = await ledger.mark_sent(
            session, entry_id, worker="b", channel="D1", ts="1.1", now=NOW
        )
        done = await ledger.mark_sent(
            session, entry_id, worker="a", channel="D1", ts="1.1", now=NOW
        )

    async with db.sessions() as session:
        assert await ledger.due_ids(session, now=NOW + timedelta(days=1)) == []
    assert (stolen, done) == (False, True)


async def test_entries_wait_for_their_not_before_time(db):
    later = NOW + timedelta(hours=8)
    async with db.sessions() as session, session.begin():
        await ledger.plan(
            session,
            [ledger.Planned("nudge", "a@x", "2026-W48", {}, not_before=later)],
            now=NOW,
        )

    async with db.sessions() as session:
        before = await ledger.due_ids(session, now=NOW)
        after = await ledger.due_ids(session, now=later)
    assert before == []
    assert len(after) == 1


async def test_lease_has_one_holder_until_it_expires(db):
    hold = timedelta(minutes=2)
    async with db.sessions() as session, session.begin():
        first = await ledger.acquire_lease(session, "s", holder="a", now=NOW, hold=hold)
    async with db.sessions() as session, session.begin():
        second = await ledger.acquire_lease(
            session, "s", holder="b", now=NOW + timedelta(minutes=1), hold=hold
        )
    async with db.sessions() as session, session.begin():
        renewed = await ledger.acquire_lease(
            session, "s", holder="a", now=NOW + timedelta(minutes=1), hold=hold
        )
    async with db.sessions() as session, session.begin():
        taken = await ledger.acquire_lease(
            session, "s", holder="b", now=NOW + timedelta(minutes=4), hold=hold
        )

    assert (first, second, renewed, taken) == (True, False, True, True)
