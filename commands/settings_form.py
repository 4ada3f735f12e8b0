"""The settings modal as data, and reading what a person submitted in it.

Slack sends the form's state as ``view.state.values[block_id][action_id]``;
:func:`read_form` turns it into changes for ``person_prefs`` and into errors
keyed by block id, which the bot hands back to Slack to show under the fields.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from commands.message import cut
from commands.prefs import WEEKDAY_NAMES
from usage.prefs import Prefs, parse_clock

CALLBACK_ID = "aispend_settings"
ACTION = "value"
SNOOZE_CHOICES = (("0", "Not snoozed"), ("1", "1 day"), ("3", "3 days"))
SNOOZE_CHOICES += (("7", "1 week"), ("14", "2 weeks"), ("30", "30 days"))
KEEP = "keep"
MAX_TITLE = 24


def _text(value: str) -> dict:
    return {"type": "plain_text", "text": value, "emoji": True}


def _option(value: str, label: str) -> dict:
    return {"text": _text(cut(label, 75)), "value": value}


def _input(
    block_id: str, label: str, element: dict, *, optional: bool = False, hint: str = ""
) -> dict:
    block = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": {**element, "action_id": ACTION},
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(hint)
    return block


def _on_off(on: bool, *, on_label: str, off_label: str) -> dict:
    options = [_option("on", on_label), _option("off", off_label)]
    return {
        "type": "radio_buttons",
        "options": options,
        "initial_option": options[0] if on else options[1],
    }


def _day(day: date) -> str:
    return f"{day:%a} {day:%b} {day.day}"


def _snooze(prefs: Prefs, today: date) -> dict:
    options = [_option(value, label) for value, label in SNOOZE_CHOICES]
    initial = options[0]
    if prefs.snoozed(today):
        keep = _option(KEEP, f"Keep: resume on {_day(prefs.snoozed_until)}")
        options.insert(0, keep)
        initial = keep
    return {"type": "static_select", "options": options, "initial_option": initial}


def _time(value: str | None, placeholder: str) -> dict:
    element: dict[str, Any] = {"type": "timepicker", "placeholder": _text(placeholder)}
    if value:
        element["initial_time"] = value
    return element


def settings_view(
    prefs: Prefs, *, today: date, manager: bool, defaults: dict[str, Any]
) -> dict:
    """The modal ``views.open`` shows (``callback_id`` ``aispend_settings``)."""
    blocks = [
        _input(
            "nudges",
            "Spend nudges",
            _on_off(
                not prefs.nudges_opt_out,
                on_label="On: a private note when my spend is well above my usual",
                off_label="Off: no nudges",
            ),
        ),
        _input("snooze", "Snooze nudges", _snooze(prefs, today)),
        _input(
            "quiet_start",
            "Quiet hours start",
            _time(prefs.quiet_start, "e.g. 19:00"),
            optional=True,
            hint="Nothing reaches you between start and end, your local time.",
        ),
        _input(
            "quiet_end",
            "Quiet hours end",
            _time(prefs.quiet_end, "e.g. 08:00"),
            optional=True,
        ),
    ]
    if manager:
        weekdays = [_option(key, name) for key, name in WEEKDAY_NAMES.items()]
        chosen = prefs.digest_weekday or defaults.get("weekday") or "mon"
        initial = next((o for o in weekdays if o["value"] == chosen), weekdays[0])
        blocks += [
            _input(
                "digest",
                "Weekly team digest",
                _on_off(
                    not prefs.digest_opt_out,
                    on_label="On: a weekly summary of my team's spend",
                    off_label="Off: no digest",
                ),
            ),
            _input(
                "digest_weekday",
                "Digest day",
                {
                    "type": "static_select",
                    "options": weekdays,
                    "initial_option": initial,
                },
            ),
            _input(
                "digest_time",
                "Digest time (your local time)",
                _time(prefs.digest_time or defaults.get("time") or "09:00", "09:00"),
            ),
        ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _text(cut("aispend settings", MAX_TITLE)),
        "submit": _text("Save"),
        "close": _text("Cancel"),
        "blocks": blocks,
    }


def _value(values: dict, block_id: str) -> str | None:
    element = (values.get(block_id) or {}).get(ACTION) or {}
    for key in ("selected_option",):
        if element.get(key):
            return element[key].get("value")
    return element.get("selected_time") or element.get("value")


def read_form(
    values: dict, *, today: date, manager: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """Changes to store and errors by block id, from a submitted settings form."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    nudges = _value(values, "nudges")
    if nudges in ("on", "off"):
        changes["nudges_opt_out"] = nudges == "off"
    snooze = _value(values, "snooze")
    if snooze and snooze != KEEP:
        if snooze.isdigit() and int(snooze) <= 90:
            days = int(snooze)
            changes["snoozed_until"] = today + timedelta(days=days) if days else None
        else:
            errors["snooze"] = "Pick one of the listed snooze lengths."
    _quiet_hours(values, changes, errors)
    if manager:
        _digest(values, changes, errors)
    return changes, errors


def _clock(values: dict, block_id: str, errors: dict[str, str]) -> str | None:
    raw = _value(values, block_id)
    if not raw:
        return None
    try:
        return parse_clock(raw).strftime("%H:%M")
    except ValueError:
        errors[block_id] = "Write a time like 08:30."
        return None


def _quiet_hours(values: dict, changes: dict, errors: dict[str, str]) -> None:
    start = _clock(values, "quiet_start", errors)
    end = _clock(values, "quiet_end", errors)
    if errors.keys() & {"quiet_start", "quiet_end"}:
        return
    if bool(start) != bool(end):
        missing = "quiet_end" if start else "quiet_start"
        errors[missing] = "Set both ends of your quiet hours, or neither."
        return
    if start and start == end:
        errors["quiet_end"] = "Quiet hours need an end different from their start."
        return
    changes["quiet_start"], changes["quiet_end"] = start, end


def _digest(values: dict, changes: dict, errors: dict[str, str]) -> None:
    digest = _value(values, "digest")
    if digest in ("on", "off"):
        changes["digest_opt_out"] = digest == "off"
    weekday = _value(values, "digest_weekday")
    if weekday:
        if weekday in WEEKDAY_NAMES:
            changes["digest_weekday"] = weekday
        else:
            errors["digest_weekday"] = "Pick a day of the week."
    at = _clock(values, "digest_time", errors)
    if at:
        changes["digest_time"] = at
    quiet = Prefs(
        quiet_start=changes.get("quiet_start"), quiet_end=changes.get("quiet_end")
    )
    if (
        at
        and changes.get("digest_opt_out") is not True
        and quiet.in_quiet_hours(parse_clock(at))
    ):
        errors["digest_time"] = (
            "That time is inside your quiet hours, so the digest could never reach you."
        )
