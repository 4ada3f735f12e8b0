import random

import pytest
from sqlalchemy import select

from bot.delivery import Deliverer
from bot.slack_client import SlackClient
from tests.fakes.clock import FakeClock
from tests.fakes.slack import VALID_TOKEN
from usage import ledger
from usage.models import LedgerEntry, SlackUser


class Crash(BaseException):
    """Stands in for the process dying: nothing below catches it."""


def make_client(fake, clock) -> SlackClient:
    return SlackClient(token=VALID_TOKEN, base_url=fake.base_url, sleep=clock.sleep)


def dm(email, slack_user_id=None, period="2026-W48", kind="nudge"):
    return ledger.Planned(
        kind,
        email,
        period,
        {
            "target": {"email": email, "slack_user_id": slack_user_id},
            "message": {
                "text": f"note for {email}",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}
                ],
            },
        },
    )


async def plan(db, items, clock):
    async with db.sessions() as session, session.begin():
        await ledger.plan(session, items, now=clock())


async def states(db) -> dict[str, tuple[str, str | None]]:
    async with db.sessions() as session:
        rows = (await session.execute(select(LedgerEntry))).scalars()
        return {row.recipient: (row.state, row.reason) for row in rows}


async def test_recipients_who_cannot_receive_are_skipped_with_their_reason(
    db, fake_slack
):
    fake_slack.add_user("U1", "active@example.test")
    fake_slack.add_user("U2", "Mixed.Case@Example.test")
    fake_slack.add_user("U3", "gone@example.test", deleted=True)
    fake_slack.add_user("U4", "left@example.test", deleted=True)
    fake_slack.add_user("UB", "robot@example.test", is_bot=True)
    clock = FakeClock()
    await plan(
        db,
        [
            dm("active@example.test"),
            dm("mixed.case@example.test"),
            dm("gone@example.test"),
            dm("left@example.test", slack_user_id="U4"),
            dm("robot@example.test"),
            dm("nobody@example.test"),
        ],
        clock,
    )
    deliverer = Deliverer(
        sessions=db.sessions, client=make_client(fake_slack, clock), clock=clock
    )

    report = await deliverer.deliver_due()

    assert report.sent == 2
    assert [m["requested_channel"] for m in fake_slack.delivered()] == ["U1", "U2"]
    result = await states(db)
    assert result["gone@example.test"][0] == "skipped"
    assert "deactivated" in result["left@example.test"][1]
    assert "bot" in result["robot@example.test"][1]
    assert "no Slack account" in result["nobody@example.test"][1]


async def test_negative_lookups_are_cached(db, fake_slack):
    clock = FakeClock()
    await plan(db, [dm("nobody@example.test", period="2026-W47")], clock)
    deliverer = Deliverer(
        sessions=db.sessions, client=make_client(fake_slack, clock), clock=clock
    )
    await deliverer.deliver_due()

    await plan(db, [dm("nobody@example.test", period="2026-W48")], clock)
    clock.advance(hours=1)
    await deliverer.deliver_due()

    async with db.sessions() as session:
        cached = await session.get(SlackUser, "nobody@example.test")
    assert cached.status == "not_found"
    assert len(fake_slack.calls_to("users.lookupByEmail")) == 1
    assert (await states(db))["nobody@example.test"][0] == "skipped"


async def test_rate_limits_on_a_300_batch_are_waited_out_and_nobody_gets_two(
    db, fake_slack
):
    people = [f"p{n:03d}@example.test" for n in range(300)]
    for n, email in enumerate(people):
        fake_slack.add_user(f"U{n:05d}", email)
    fake_slack.rate_limit("chat.postMessage", on_calls={51, 170}, retry_after=30)
    clock = FakeClock()
    await plan(
        db,
        [dm(email, slack_user_id=f"U{n:05d}") for n, email in enumerate(people)],
        clock,
    )
    client = make_client(fake_slack, clock)

    report = await Deliverer(
        sessions=db.sessions, client=client, clock=clock
    ).deliver_due()

    per_user = [len(fake_slack.delivered_to(f"U{n:05d}")) for n in range(300)]
    assert report.sent == 300
    assert set(per_user) == {1}
    assert client.waited == [30, 30]


async def test_blocks_slack_refuses_are_sent_as_text(db, fake_slack):
    fake_slack.add_user("U1", "a@example.test")
    clock = FakeClock()
    item = dm("a@example.test", "U1")
    item.detail["message"]["blocks"] = [{"type": "divider"} for _ in range(60)]
    await plan(db, [item], clock)

    await Deliverer(
        sessions=db.sessions, client=make_client(fake_slack, clock), clock=clock
    ).deliver_due()

    [message] = fake_slack.delivered()
    assert message["blocks"] is None
    assert message["text"] == "note for a@example.test"
    assert "plain text" in (await states(db))["a@example.test"][1]


async def test_a_revoked_token_stops_the_batch_and_keeps_the_rest_pending(
    db, fake_slack
):
    for n in range(3):
        fake_slack.add_user(f"U{n}", f"p{n}@example.test")
    fake_slack.revoke()
    clock = FakeClock()
    await plan(db, [dm(f"p{n}@example.test", f"U{n}") for n in range(3)], clock)

    report = await Deliverer(
        sessions=db.sessions, client=make_client(fake_slack, clock), clock=clock
    ).deliver_due()

    assert report.stopped == "token_revoked"
    assert {state for state, _ in (await states(db)).values()} == {"pending"}
    assert len(fake_slack.calls_to("users.info")) == 1


async def test_a_transient_failure_is_retried_later_not_lost(db, fake_slack):
    fake_slack.add_user("U1", "a@example.test")
    fake_slack.server_error("chat.postMessage", on_calls={1}, status=503)
    clock = FakeClock()
    await plan(db, [dm("a@example.test", "U1")], clock)
    deliverer = Deliverer(
        sessions=db.sessions, client=make_client(fake_slack, clock), clock=clock
    )

    first = await deliverer.deliver_due()
    clock.advance(minutes=2)
    second = await deliverer.deliver_due()

    assert (first.retry_later, second.sent) == (1, 1)
    assert len(fake_slack.delivered_to("U1")) == 1


class CrashingClient:
    """Wraps a client and dies on the Nth call, before or after Slack answers."""

    def __init__(
        self, client: SlackClient, *, at_call: int, after: bool, only: str = ""
    ):
        self.client = client
        self.at_call = at_call
        self.after = after
        self.only = only
        self.count = 0

    def __getattr__(self, name):
        target = getattr(self.client, name)
        if not callable(target) or name.startswith("_"):
            return target
        if self.only and name != self.only:
            return target

        async def wrapped(*args, **kwargs):
            self.count += 1
            if self.count == self.at_call and not self.after:
                raise Crash()
            result = await target(*args, **kwargs)
            if self.count == self.at_call and self.after:
                raise Crash()
            return result

        return wrapped


@pytest.mark.parametrize("seed", range(6))
async def test_a_crash_at_any_point_of_a_batch_then_a_restart_sends_each_once(
    db, fake_slack, seed
):
    rng = random.Random(seed)
    people = [f"p{n:02d}@example.test" for n in range(40)]
    for n, email in enumerate(people):
        fake_slack.add_user(f"U{n:03d}", email)
    clock = FakeClock()
    # some people have a Slack id in the directory, the others are looked up
    await plan(
        db,
        [dm(email, f"U{n:03d}" if n % 2 else None) for n, email in enumerate(people)],
        clock,
    )

    crashes = 0
    while True:
        client = CrashingClient(
            make_client(fake_slack, clock),
            at_call=rng.randint(1, 60),
            after=rng.random() < 0.5,
        )
        deliverer = Deliverer(
            sessions=db.sessions, client=client, clock=clock, worker=f"w{crashes}"
        )
        try:
            await deliverer.deliver_due()
            break
        except Crash:
            crashes += 1
            clock.advance(minutes=6)  # the dead process's claim expires

    per_user = [len(fake_slack.delivered_to(f"U{n:03d}")) for n in range(40)]
    assert crashes >= 1
    assert per_user == [1] * 40
    assert {state for state, _ in (await states(db)).values()} == {"sent"}


async def test_a_crash_after_slack_posted_but_before_it_was_recorded_does_not_resend(
    db, fake_slack
):
    for n in range(5):
        fake_slack.add_user(f"U{n}", f"p{n}@example.test")
    clock = FakeClock()
    await plan(db, [dm(f"p{n}@example.test", f"U{n}") for n in range(5)], clock)
    crashing = CrashingClient(
        make_client(fake_slack, clock), at_call=3, after=True, only="post_message"
    )
    with pytest.raises(Crash):
        await Deliverer(
            sessions=db.sessions, client=crashing, clock=clock
        ).deliver_due()
    clock.advance(minutes=6)

    report = await Deliverer(
        sessions=db.sessions, client=make_client(fake_slack, clock), clock=clock
    ).deliver_due()

    assert [len(fake_slack.delivered_to(f"U{n}")) for n in range(5)] == [1] * 5
    assert (report.sent, report.confirmed_from_history) == (3, 1)
