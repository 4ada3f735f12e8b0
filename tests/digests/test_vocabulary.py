"""No template speaks of people in the language of a contest."""

import re
from importlib import resources

import pytest

from digests.blocks import template_names

CONTEST = re.compile(
    r"\b(top|tops|ranks?|ranked|ranking|leaderboards?|percentiles?|most|least|"
    r"biggest spenders?|heaviest|winners?|losers?)\b",
    re.IGNORECASE,
)


def template_text(name: str) -> str:
    return (resources.files("digests") / "templates" / name).read_text("utf-8")


@pytest.mark.parametrize("name", template_names())
def test_templates_use_no_contest_words(name):
    found = CONTEST.findall(template_text(name))

    assert found == []


def test_every_message_kind_has_a_template_and_a_fallback():
    names = set(template_names())

    for kind in ("digest", "nudge", "alert"):
        assert f"{kind}.j2" in names
        assert f"{kind}_fallback.j2" in names


def test_the_contest_check_catches_what_it_should():
    assert CONTEST.findall("Top spenders this week, ranked") == ["Top", "ranked"]
