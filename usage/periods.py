"""Reporting periods: parse the period words of ``/aispend`` into day ranges.

A period is a half-open range of calendar days in the organisation's
reporting time zone; ``today`` is always passed in, never read from a clock.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from usage.errors import UserError

MONTHS = {
    name.lower(): index for index, name in enumerate(calendar.month_name) if name
} | {name.lower(): index for index, name in enumerate(calendar.month_abbr) if name}


@dataclass(frozen=True)
class Period:
    start: date  # first day, inclusive
    end: date  # day after the last, exclusive
    kind: str  # week|month|days|range|day
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end

    def previous(self, count: int = 1) -> Period:
        """The period of the same kind and length that ends where this one starts."""
        if self.kind == "month":
            start = self.start
            for _ in range(count):
                start = (start - timedelta(days=1)).replace(day=1)
            return month_period(start.year, start.month)
        shift = timedelta(days=self.days * count)
        if self.kind == "week":
            return week_period(self.start - shift)
        return make_range(self.start - shift, self.end - shift, kind=self.kind)

    def elapsed(self, today: date) -> Period:
        """This period cut at today (inclusive), for month-to-date figures."""
        end = min(self.end, today + timedelta(days=1))
        return Period(self.start, max(end, self.start), self.kind, self.label)


def _fmt(day: date, *, year: bool = True) -> str:
    text = f"{calendar.month_abbr[day.month]} {day.day}"
    return f"{text}, {day.year}" if year else text


def span_label(start: date, last: date) -> str:
    if start == last:
        return _fmt(start)
    if start.year == last.year and start.month == last.month:
        return f"{_fmt(start, year=False)}–{last.day}, {last.year}"
    if start.year == last.year:
        return f"{_fmt(start, year=False)} – {_fmt(last)}"
    return f"{_fmt(start)} – {_fmt(last)}"


def week_period(day: date) -> Period:
    start = day - timedelta(days=day.weekday())
    iso = start.isocalendar()
    label = f"week {iso.year}-W{iso.week:02d} ({span_label(start, start + timedelta(days=6))})"
    return Period(start, start + timedelta(days=7), "week", label)


def month_period(year: int, month: int) -> Period:
    start = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    label = f"{calendar.month_name[month]} {year} ({span_label(start, last)})"
    return Period(start, last + timedelta(days=1), "month", label)


def make_range(start: date, end: date, *, kind: str = "range") -> Period:
    last = end - timedelta(days=1)
    return Period(start, end, kind, span_label(start, last))


def iso_week(text: str) -> Period:
    match = re.fullmatch(r"(\d{4})-?w(\d{1,2})", text.strip().lower())
    if not match:
        raise UserError(f"{text!r} is not an ISO week; write it like 2026-W48")
    year, week = int(match[1]), int(match[2])
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise UserError(f"{year} has no week {week}") from exc
    return week_period(monday)


_DAYS_RE = re.compile(r"^(?:last |past )?(\d+) ?(?:d|days?)$")
_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_RANGE_RE = re.compile(
    rf"^(?:from )?({_ISO_DATE}) ?(?:\.\.|to|–|-|until) ?({_ISO_DATE})$"
)
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_NAMED_MONTH_RE = re.compile(r"^([a-z]+)(?: (\d{4}))?$")
MAX_DAYS = 3660


EARLIEST = date(1970, 1, 1)
LATEST = date(2199, 12, 31)


def check_day(day: date, *, what: str = "that date") -> date:
    """Refuse days outside the years aispend reports on (and date arithmetic handles)."""
    if not EARLIEST <= day <= LATEST:
        raise UserError(
            f"{what} ({day.isoformat()}) is outside {EARLIEST.year}–{LATEST.year}"
        )
    return day


def parse_period(text: str, *, today: date) -> Period | None:
    """Parse period words; None when ``text`` is not a period at all.

    Raises UserError for something that looks like a period but is impossible
    (week 60, 31 February, a range that ends before it starts, the year 9999).
    """
    check_day(today, what="today")
    try:
        period = _parse_period(text, today=today)
    except OverflowError as exc:
        raise UserError(f"{text.strip()!r} reaches past the calendar") from exc
    if period is not None:
        check_day(period.start, what="the period")
        check_day(period.last_day, what="the period")
    return period


def _parse_period(text: str, *, today: date) -> Period | None:
    words = " ".join(text.lower().replace(",", " ").split())
    if not words:
        return None
    simple = _simple_period(words, today)
    if simple is not None:
        return simple
    if match := _DAYS_RE.match(words):
        count = int(match[1])
        if not 1 <= count <= MAX_DAYS:
            raise UserError(f"pick between 1 and {MAX_DAYS} days, not {count}")
        end = today + timedelta(days=1)
        period = make_range(end - timedelta(days=count), end, kind="days")
        return Period(
            period.start, period.end, "days", f"last {count} days ({period.label})"
        )
    if re.fullmatch(r"\d{4}-?w\d{1,2}", words):
        return iso_week(words)
    if match := _MONTH_RE.match(words):
        return _month(int(match[1]), int(match[2]))
    if match := _RANGE_RE.match(words):
        return _range(match[1], match[2])
    if re.fullmatch(_ISO_DATE, words):
        day = _date(words)
        return make_range(day, day + timedelta(days=1), kind="day")
    if (match := _NAMED_MONTH_RE.match(words)) and match[1] in MONTHS:
        month = MONTHS[match[1]]
        year = int(match[2]) if match[2] else _latest_year(month, today)
        return _month(year, month)
    return None


def _simple_period(words: str, today: date) -> Period | None:
    if words in ("today",):
        return make_range(today, today + timedelta(days=1), kind="day")
    if words == "yesterday":
        day = today - timedelta(days=1)
        return make_range(day, today, kind="day")
    if words in ("this week", "week", "wtd"):
        return week_period(today)
    if words in ("last week", "previous week"):
        return week_period(today - timedelta(days=7))
    if words in ("this month", "month", "mtd"):
        return month_period(today.year, today.month)
    if words in ("last month", "previous month"):
        first = today.replace(day=1) - timedelta(days=1)
        return month_period(first.year, first.month)
    return None


def _latest_year(month: int, today: date) -> int:
    """A bare month name means its most recent occurrence (this year or last)."""
    return today.year if month <= today.month else today.year - 1


def _month(year: int, month: int) -> Period:
    if not 1 <= month <= 12:
        raise UserError(f"{year}-{month:02d} is not a month")
    return month_period(year, month)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UserError(f"{text} is not a date") from exc


def _range(first: str, last: str) -> Period:
    start, end = _date(first), _date(last)
    if end < start:
        raise UserError(f"the range {first}..{last} ends before it starts")
    if (end - start).days >= MAX_DAYS:
        raise UserError(f"ranges can cover at most {MAX_DAYS} days")
    return make_range(start, end + timedelta(days=1))
