"""``/aispend settings``, ``optout``, ``optin`` and ``snooze``: a person's own choices."""

from __future__ import annotations

import re
from datetime import date, timedelta

from commands.context import AskContext
from commands.grammar import NotUnderstood, Request, subcommand
from commands.message import Message, context, esc, finalize, header, section
from usage.directory import TeamTree
from usage.errors import UserError
from usage.models import Person
from usage.prefs import MAX_SNOOZE_DAYS, Prefs, load_prefs, save_prefs

# Subcommands that change the asker's settings: the bot re-publishes their Home tab.
CHANGES_PREFS = frozenset({"optout", "optin", "snooze"})
WEEKDAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
SNOOZE = re.compile(r"^(\d{1,4}) ?(d|days?|w|weeks?)?$")
KIND_WORDS = {
    "nudges": "nudges",
    "nudge": "nudges",
    "digest": "digest",
    "digests": "digest",
}


def manages_a_team(person: Person, tree: TeamTree) -> bool:
    """Managers get the weekly digest: they manage a team or have that role."""
    return person.role == "manager" or bool(tree.managed_by(person.email))


def is_manager(ctx: AskContext) -> bool:
    return manages_a_team(ctx.asker, ctx.tree)


def _day(day: date) -> str:
    return f"{day:%a} {day:%b} {day.day}"


def prefs_lines(
    prefs: Prefs, *, today: date, manager: bool, defaults: dict
) -> list[str]:
    """One line per setting, as a person reads them."""
    if prefs.nudges_opt_out:
        nudges = "off (you opted out)"
    elif prefs.snoozed(today):
        nudges = f"snoozed; they resume on {_day(prefs.snoozed_until)}"
    else:
        nudges = "on"
    lines = [f"*Spend nudges:* {nudges}"]
    if prefs.quiet_start and prefs.quiet_end:
        lines.append(
            f"*Quiet hours:* {prefs.quiet_start}–{prefs.quiet_end}, your local time"
        )
    else:
        lines.append("*Quiet hours:* none set")
    if manager:
        if prefs.digest_opt_out:
            lines.append("*Weekly team digest:* off (you opted out)")
        else:
            weekday = prefs.digest_weekday or defaults.get("weekday") or "mon"
            at = prefs.digest_time or defaults.get("time") or "09:00"
            name = WEEKDAY_NAMES.get(weekday, weekday)
            lines.append(f"*Weekly team digest:* {name}s at {at}, your local time")
    return lines


def _summary(ctx: AskContext, prefs: Prefs, *, title: str, note: str = "") -> Message:
    lines = prefs_lines(
        prefs,
        today=ctx.today,
        manager=is_manager(ctx),
        defaults=ctx.settings.get("digest") or {},
    )
    blocks = [header(title)]
    if note:
        blocks.append(section(note))
    blocks += [
        section("\n".join(lines)),
        context(
            "Change them with `/aispend optout nudges`, `/aispend optin digest`, "
            "`/aispend snooze 7 days`, or the Settings button on the aispend Home tab."
        ),
    ]
    plain = note.replace("*", "") if note else title
    return finalize(plain, blocks)


@subcommand(
    "settings",
    usage="settings",
    summary="your notification settings (in Slack: opens the settings form)",
    takes_period=False,
)
async def settings(ctx: AskContext, request: Request) -> Message:
    if request.words:
        raise NotUnderstood(request.text, "settings")
    prefs = await load_prefs(ctx.session, ctx.asker.id)
    return _summary(ctx, prefs, title="Your aispend settings")


def parse_kind(request: Request, verb: str) -> str:
    words = [w.lower() for w in request.words]
    if len(words) != 1 or words[0] not in KIND_WORDS:
        raise NotUnderstood(request.text, f"{verb} nudges")
    return KIND_WORDS[words[0]]


async def _set_opt_out(ctx: AskContext, request: Request, *, out: bool) -> Message:
    verb = "optout" if out else "optin"
    kind = parse_kind(request, verb)
    if kind == "digest" and not is_manager(ctx):
        raise UserError(
            "the weekly digest goes to team managers only, and you manage no team"
        )
    prefs = await save_prefs(
        ctx.session,
        person_id=ctx.asker.id,
        changes={f"{kind}_opt_out": out},
        actor=ctx.asker.email,
    )
    what = "spend nudges" if kind == "nudges" else "the weekly team digest"
    note = (
        f":white_check_mark: Saved: you will get no more {what}."
        if out
        else f":white_check_mark: Saved: you will get {what} again."
    )
    return _summary(ctx, prefs, title="Settings saved", note=note)


@subcommand(
    "optout",
    usage="optout nudges|digest",
    summary="stop spend nudges, or your weekly team digest",
    takes_period=False,
)
async def optout(ctx: AskContext, request: Request) -> Message:
    return await _set_opt_out(ctx, request, out=True)


@subcommand(
    "optin",
    usage="optin nudges|digest",
    summary="get spend nudges, or your weekly team digest, again",
    takes_period=False,
)
async def optin(ctx: AskContext, request: Request) -> Message:
    return await _set_opt_out(ctx, request, out=False)


def parse_snooze(words: tuple[str, ...]) -> int:
    """``7 days`` -> 7, ``2 weeks`` -> 14, ``off`` -> 0; raises UserError otherwise."""
    text = " ".join(words).lower()
    if text == "off":
        return 0
    match = SNOOZE.match(text)
    if match is None:
        raise UserError(
            "write the snooze as a number of days, like `/aispend snooze 7 days` "
            "(or `/aispend snooze off`)"
        )
    days = int(match[1]) * (7 if (match[2] or "d").startswith("w") else 1)
    if days > MAX_SNOOZE_DAYS:
        raise UserError(
            f"a snooze can last up to {MAX_SNOOZE_DAYS} days; to stop nudges for good, "
            "use `/aispend optout nudges`"
        )
    return days


@subcommand(
    "snooze",
    usage="snooze N days|off",
    summary="pause spend nudges for a while",
    takes_period=False,
)
async def snooze(ctx: AskContext, request: Request) -> Message:
    days = parse_snooze(request.words)
    until = ctx.today + timedelta(days=days) if days else None
    prefs = await save_prefs(
        ctx.session,
        person_id=ctx.asker.id,
        changes={"snoozed_until": until},
        actor=ctx.asker.email,
    )
    if until is None:
        note = ":white_check_mark: Saved: nudges are no longer snoozed."
    else:
        note = (
            f":white_check_mark: Saved: no nudges for {days} day{'s' * (days != 1)}; "
            f"they resume on {esc(_day(until))}."
        )
    return _summary(ctx, prefs, title="Settings saved", note=note)
