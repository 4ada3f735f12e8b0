from datetime import date

import pytest

from commands.grammar import NotUnderstood, parse, split_period
from usage.errors import UserError

TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    ("text", "name", "rest", "start"),
    [
        ("", "me", "", None),
        ("me", "me", "", None),
        ("ME  last   week", "me", "", date(2026, 11, 23)),
        ("last week", "me", "", date(2026, 11, 23)),
        ("team", "team", "", None),
        ("team platform 2026-W48", "team", "platform", date(2026, 11, 23)),
        ("team mobile apps last month", "team", "mobile apps", date(2026, 11, 1)),
        ("team 2026-11-02 to 2026-11-08", "team", "", date(2026, 11, 2)),
        ("org 30 days", "org", "", date(2026, 11, 5)),
        ("budget", "budget", "", None),
        ("help", "help", "", None),
    ],
)
def test_subcommands_and_period_words(text, name, rest, start):
    request = parse(text, today=TODAY)

    assert (request.name, request.rest) == (name, rest)
    assert (request.period.start if request.period else None) == start


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("<@U0NW00005|ben> last week", "slack_id", "U0NW00005"),
        ("<@W0NW00012>", "slack_id", "W0NW00012"),
        (
            "<mailto:Ben@Northwind.test|Ben@Northwind.test>",
            "email",
            "ben@northwind.test",
        ),
        ("ben@northwind.test november", "email", "ben@northwind.test"),
        ("@ben.kowalski", "handle", "ben.kowalski"),
    ],
)
def test_people_arrive_as_mentions_emails_or_handles(text, field, value):
    request = parse(text, today=TODAY)

    assert request.name == "@person"
    assert getattr(request, field) == value


def test_period_words_come_off_the_end_only():
    words, period = split_period(["last", "week", "team"], today=TODAY)

    assert period is None and words == ["last", "week", "team"]


def test_nonsense_is_not_understood_with_the_nearest_command():
    with pytest.raises(NotUnderstood) as raised:
        parse("tema platform", today=TODAY)

    assert raised.value.suggestion == "team platform"


def test_nothing_close_gives_no_suggestion():
    with pytest.raises(NotUnderstood) as raised:
        parse("what is the meaning of life", today=TODAY)

    assert raised.value.suggestion is None


@pytest.mark.parametrize(
    "text", ["me 2026-W60", "me 2026-13", "me 2026-11-09..2026-11-01", "me 0 days"]
)
def test_impossible_periods_are_user_errors(text):
    with pytest.raises(UserError):
        parse(text, today=TODAY)
