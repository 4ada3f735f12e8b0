"""When scheduled messages fire: weekday names, local times, explicit zones.

A fire time is a wall-clock time on a weekday in the recipient's own zone.
Wall-clock times that do not exist (the hour skipped when clocks go forward)
fire at the same distance past the change, so once; times that happen twice
(the hour repeated when clocks go back) fire at the first of the two.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from usage.errors import ConfigError
from usage.periods import Period, week_period

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekday_number(name: str) -> int:
    """``"mon"`` (or ``"Monday"``) -> 0."""
    key = (name or "").strip().lower()[:3]
    if key not in WEEKDAYS:
        raise ConfigError(f"{name!r} is not a weekday; write mon, tue, … or sun")
    return WEEKDAYS.index(key)


def parse_clock(text: str) -> time:
    """``"09:00"`` -> 09:00."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return time(hours, minutes)
    except (ValueError, AttributeError) as exc:
        raise ConfigError(
            f"{text!r} is not a time of day; write it like 09:00"
        ) from exc


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``tz``."""
    # fold=0 reads a skipped time with the offset before the change (so 02:30
    # on a spring-forward night is 03:30 new time) and a repeated one as its first.
    return datetime.combine(day, at).replace(tzinfo=tz, fold=0).astimezone(UTC)


def last_fire(now: datetime, *, weekday: str, at: time, tz: ZoneInfo) -> datetime:
    """The most recent fire time at or before ``now``."""
    wanted = weekday_number(weekday)
    today = now.astimezone(tz).date()
    for back in range(0, 15):
        day = today - timedelta(days=back)
        if day.weekday() != wanted:
            continue
        instant = local_instant(day, at, tz)
        if instant <= now:
            return instant
    raise AssertionError("a weekday occurs every 7 days")


def next_fire(after: datetime, *, weekday: str, at: time, tz: ZoneInfo) -> datetime:
    """The first fire time strictly after ``after``."""
    wanted = weekday_number(weekday)
    today = after.astimezone(tz).date()
    for ahead in range(0, 15):
        day = today + timedelta(days=ahead)
        if day.weekday() != wanted:
            continue
        instant = local_instant(day, at, tz)
        if instant > after:
            return instant
    raise AssertionError("a weekday occurs every 7 days")


def week_before(instant: datetime, reporting: ZoneInfo) -> Period:
    """The last ISO week (in the reporting zone) that had ended by ``instant``."""
    day = instant.astimezone(reporting).date()
    return week_period(day - timedelta(days=day.weekday() + 1))


def week_key(period: Period) -> str:
    iso = period.start.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def in_quiet_hours(
    instant: datetime, *, start: str | None, end: str | None, tz: ZoneInfo
) -> datetime | None:
    """When quiet hours end, if ``instant`` falls inside them; else None."""
    if not start or not end:
        return None
    begin, finish = parse_clock(start), parse_clock(end)
    local = instant.astimezone(tz)
    now = local.time().replace(second=0, microsecond=0)
    if begin == finish:
        return None
    if begin < finish:
        inside = begin <= now < finish
        end_day = local.date()
    else:  # spans midnight, e.g. 20:00-08:00
        inside = now >= begin or now < finish
        end_day = local.date() + timedelta(days=1) if now >= begin else local.date()
    if not inside:
        return None
    return local_instant(end_day, finish, tz)
