import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from bot.delivery import Deliverer
from bot.scheduler import Scheduler, last_fire, next_fire
from bot.slack_client import SlackClient
from digests.schedule import in_quiet_hours, parse_clock
from tests.fakes.clock import FakeClock
from tests.fakes.slack import VALID_TOKEN
from tests.northwind import load_northwind

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NINE = parse_clock("09:00")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "after", "expected"),
    [
        # Berlin leaves summer time on Sunday 2026-10-25
        (BERLIN, utc(2026, 10, 19, 6), utc(2026, 10, 19, 7)),
        (BERLIN, utc(2026, 10, 23), utc(2026, 10, 26, 8)),
        # and starts it on Sunday 2026-03-29
        (BERLIN, utc(2026, 3, 25), utc(2026, 3, 30, 7)),
        (BERLIN, utc(2026, 3, 17), utc(2026, 3, 23, 8)),
        # New York leaves summer time on Sunday 2026-11-01, starts on 2026-03-08
        (NEW_YORK, utc(2026, 10, 20), utc(2026, 10, 26, 13)),
        (NEW_YORK, utc(2026, 10, 27), utc(2026, 11, 2, 14)),
        (NEW_YORK, utc(2026, 3, 3), utc(2026, 3, 9, 13)),
    ],
)
def test_monday_nine_follows_local_time_across_dst(tz, after, expected):
    assert next_fire(after, weekday="mon", at=NINE, tz=tz) == expected


def test_a_skipped_local_time_fires_once_just_after_the_change():
    at = parse_clock("02:30")

    first = next_fire(utc(2026, 3, 28), weekday="sun", at=at, tz=BERLIN)
    second = next_fire(first, weekday="sun", at=at, tz=BERLIN)

    assert first == utc(2026, 3, 29, 1, 30)  # 03:30 summer time
    assert second == utc(2026, 4, 5, 0, 30)


def test_a_repeated_local_time_fires_once_at_its_first_occurrence():
    at = parse_clock("02:30")

    first = next_fire(utc(2026, 10, 24), weekday="sun", at=at, tz=BERLIN)
    second = next_fire(first, weekday="sun", at=at, tz=BERLIN)

    assert first == utc(2026, 10, 25, 0, 30)
    assert second == utc(2026, 11, 1, 1, 30)


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK])
def test_a_year_of_weekly_fires_has_no_doubles_and_no_gaps(tz):
    fires = [utc(2026, 1, 1)]
    for _ in range(52):
        fires.append(next_fire(fires[-1], weekday="mon", at=NINE, tz=tz))

    gaps = {b - a for a, b in pairwise(fires[1:])}
    local = {f.astimezone(tz).strftime("%a %H:%M") for f in fires[1:]}
    assert gaps <= {
        timedelta(days=7),
        timedelta(days=7, hours=1),
        timedelta(days=7, hours=-1),
    }
    assert local == {"Mon 09:00"}


def test_last_fire_is_the_latest_at_or_before_now():
    now = utc(2026, 11, 30, 14, 7)  # Monday 09:07 in New York

    assert last_fire(now, weekday="mon", at=NINE, tz=NEW_YORK) == utc(2026, 11, 30, 14)
    assert last_fire(now, weekday="mon", at=NINE, tz=ZoneInfo("Asia/Kolkata")) == utc(
        2026, 11, 30, 3, 30
    )


def test_quiet_hours_across_midnight_end_the_next_morning():
    ends = in_quiet_hours(utc(2026, 11, 30, 22), start="20:00", end="08:00", tz=BERLIN)

    assert ends == utc(2026, 12, 1, 7)
    assert (
        in_quiet_hours(utc(2026, 11, 30, 12), start="20:00", end="08:00", tz=BERLIN)
        is None
    )


MANAGERS = {
    "U0NW00001": "jordan.blake@northwind.test",
    "U0NW00003": "maria.garcia@northwind.test",
    "U0NW00007": "sam.okafor@northwind.test",
    "U0NW00010": "lee.chen@northwind.test",
}


def add_northwind_users(fake):
    for n in range(1, 12):
        fake.add_user(f"U0NW{n:05d}", None)
    fake.add_user("W0NW00012", None)


def digests_to(fake) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in fake.delivered():
        payload = (message["metadata"] or {}).get("event_payload") or {}
        if payload.get("kind") == "digest":
            found.setdefault(message["requested_channel"], []).append(payload["period"])
    return found


def scheduler(db, fake, clock, holder, **kwargs) -> Scheduler:
    client = SlackClient(token=VALID_TOKEN, base_url=fake.base_url, sleep=clock.sleep)
    deliverer = Deliverer(
        sessions=db.sessions, client=client, clock=clock, worker=holder
    )
    return Scheduler(
        sessions=db.sessions, deliverer=deliverer, clock=clock, holder=holder, **kwargs
    )


async def test_a_run_missed_by_minutes_goes_out_once_and_three_down_weeks_catch_up_once(
    db, fake_slack
):
    await load_northwind(db)
    add_northwind_users(fake_slack)
    clock = FakeClock(utc(2026, 11, 30, 13, 58))  # 08:58 in New York; down until 09:07
    clock.advance(minutes=9)
    sched = scheduler(db, fake_slack, clock, "a")

    late = await sched.tick()
    clock.advance(days=3)
    await sched.tick()
    clock.advance(weeks=3)  # down for three weeks
    await sched.tick()

    late_ones = {email for email, _ in late.late}
    assert "maria.garcia@northwind.test" not in late_ones  # 7 minutes: on time
    assert "lee.chen@northwind.test" in late_ones  # 09:00 in Kolkata was hours ago
    assert digests_to(fake_slack) == {
        user: ["2026-W48", "2026-W51"] for user in MANAGERS
    }


async def test_two_schedulers_on_one_database_send_each_digest_once(db, fake_slack):
    await load_northwind(db)
    add_northwind_users(fake_slack)
    clock = FakeClock(utc(2026, 11, 30, 14, 30))
    # a lease shorter than the tick, so both processes lead at some point
    first = scheduler(db, fake_slack, clock, "a", lease_hold=timedelta(seconds=30))
    second = scheduler(db, fake_slack, clock, "b", lease_hold=timedelta(seconds=30))

    leaders = []
    for _ in range(4):
        reports = await asyncio.gather(first.tick(), second.tick())
        leaders.append([r.leader for r in reports])
        clock.advance(minutes=1)

    assert all(sum(pair) == 1 for pair in leaders)
    assert digests_to(fake_slack) == {user: ["2026-W48"] for user in MANAGERS}
