"""``/aispend admin …``: settings admins may change at run time, each change audited.

Grammar::

    admin                              what is set now, and who cannot receive messages
    admin set KEY VALUE                a nudge threshold, the privacy mode, the price table
    admin budget TEAM USD|none         a team's monthly budget
    admin privacy aggregate|individuals
    admin exclude EMAIL / admin include EMAIL
    admin optout PERSON nudges|digest / admin optin PERSON nudges|digest
    admin audit                        the latest changes, with who and when
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select

from commands.context import AskContext
from commands.grammar import EMAIL, MAILTO, MENTION, NotUnderstood, Request, subcommand
from commands.message import (
    Message,
    context,
    divider,
    esc,
    finalize,
    header,
    plural,
    section,
    usd,
)
from commands.prefs import KIND_WORDS
from usage.directory import person_by_email, person_by_slack_id
from usage.errors import ConfigError, UserError
from usage.models import AuditEntry, LedgerEntry, Person, PersonPrefs, SlackUser, Team
from usage.prefs import save_prefs
from usage.pricing import load_price_table
from usage.settings import store_setting

logger = logging.getLogger(__name__)

MICROS = 1_000_000
AUDIT_LINES = 20
LIST_LIMIT = 25
PRIVACY_MODES = ("aggregate", "individuals")
UNREACHABLE = {
    "not_found": "no Slack account for this email (unknown or deactivated)",
    "deleted": "the Slack account is deactivated",
    "bot": "the Slack account is a bot",
}


@dataclass(frozen=True)
class Key:
    """A setting admins may change, with the parser that checks a typed value."""

    name: str
    parse: Callable[[str, AskContext], Any]
    hint: str


def _number(text: str, *, low: float, high: float | None, name: str) -> int | float:
    cleaned = text.strip().removeprefix("$").replace(",", "").replace("_", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise UserError(f"{name} takes a number, not {text!r}") from None
    if not value.is_finite() or value < Decimal(str(low)):
        raise UserError(f"{name} must be at least {low:g}")
    if high is not None and value > Decimal(str(high)):
        raise UserError(f"{name} must be at most {high:g}")
    return int(value) if value == value.to_integral_value() else float(value)


def _amount(name: str, low: float = 0, high: float | None = None):
    return lambda text, ctx: _number(text, low=low, high=high, name=name)


def _flag(text: str, ctx: AskContext) -> bool:
    lowered = text.strip().lower()
    if lowered in ("on", "true", "yes", "1"):
        return True
    if lowered in ("off", "false", "no", "0"):
        return False
    raise UserError(f"nudges.enabled takes on or off, not {text!r}")


def _privacy(text: str, ctx: AskContext) -> str:
    lowered = text.strip().lower()
    if lowered not in PRIVACY_MODES:
        raise UserError(
            f"privacy.manager_view is {' or '.join(PRIVACY_MODES)}, not {text!r}"
        )
    return lowered


def _free_text(text: str, ctx: AskContext) -> str:
    return text.strip()[:200]


def _price_table(text: str, ctx: AskContext) -> str:
    value = text.strip()
    if value.lower() in ("", "builtin", "built-in", "none"):
        return ""
    path = Path(value)
    if not path.is_absolute():
        path = ctx.settings.base_dir / path
    try:
        table = load_price_table(path)
    except ConfigError as exc:
        raise UserError(f"{exc}; the price table was not changed") from exc
    except ValueError as exc:
        raise UserError(
            f"{value} is not a price map in the LiteLLM JSON format ({exc})"
        ) from exc
    logger.info("price table %s checked: %d models", path, len(table.models))
    return value


KEYS = {
    key.name: key
    for key in (
        Key("nudges.enabled", _flag, "on or off"),
        Key("nudges.floor_usd", _amount("nudges.floor_usd"), "dollars, e.g. 75"),
        Key("nudges.absolute_usd", _amount("nudges.absolute_usd"), "dollars; 0 is off"),
        Key(
            "nudges.multiple_of_usual",
            _amount("nudges.multiple_of_usual", low=1, high=100),
            "a factor, e.g. 2.5",
        ),
        Key("nudges.tool_cap_usd", _amount("nudges.tool_cap_usd"), "dollars per tool"),
        Key(
            "nudges.tool_cap_share",
            _amount("nudges.tool_cap_share", low=0, high=1),
            "a share of the cap, e.g. 0.8",
        ),
        Key("nudges.preferred_tool", _free_text, "a tool name"),
        Key("nudges.preferred_model", _free_text, "a model name"),
        Key("privacy.manager_view", _privacy, "aggregate or individuals"),
        Key("pricing.price_table", _price_table, "a LiteLLM-format JSON file"),
    )
}


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(not set)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value)


@subcommand(
    "admin",
    usage="admin [set|budget|privacy|exclude|include|optout|optin|audit …]",
    summary="admins: thresholds, budgets, privacy, exclusions, opt-outs, audit log",
    admin_only=True,
    takes_period=False,
)
async def admin(ctx: AskContext, request: Request) -> Message:
    words = list(request.words)
    action = words[0].lower() if words else "show"
    handler = ACTIONS.get(action)
    if handler is None:
        raise NotUnderstood(request.text, "admin")
    return await handler(ctx, words[1:])


async def _show(ctx: AskContext, words: list[str]) -> Message:
    if words:
        raise NotUnderstood("admin show " + " ".join(words), "admin")
    settings = ctx.settings
    lines = [f"• `{name}` = {esc(_shown(settings.get(name)))}" for name in KEYS]
    teams = sorted(ctx.tree.teams.values(), key=lambda t: t.name.lower())
    budgets = [
        f"• {esc(t.name)}: "
        + (usd(t.monthly_budget_micros) if t.monthly_budget_micros else "no budget")
        for t in teams[:LIST_LIMIT]
    ]
    excluded = settings.get("excluded.emails") or []
    blocks = [
        header("aispend admin"),
        section("*Settings*\n" + "\n".join(lines)),
        section("*Team monthly budgets*\n" + ("\n".join(budgets) or "No teams yet.")),
        section(
            "*Excluded people* (no nudges, not in digests)\n" + esc(_shown(excluded))
        ),
        section(await _opt_outs(ctx)),
        section(await _unreachable(ctx)),
        divider(),
        context(
            "Change with `/aispend admin set KEY VALUE`, `admin budget TEAM USD`, "
            "`admin privacy individuals`, `admin exclude EMAIL`, `admin optout EMAIL nudges`. "
            "Every change is in `/aispend admin audit`."
        ),
    ]
    return finalize("aispend admin settings", blocks)


async def _opt_outs(ctx: AskContext) -> str:
    rows = await ctx.session.execute(
        select(Person.email, PersonPrefs.nudges_opt_out, PersonPrefs.digest_opt_out)
        .join(PersonPrefs, PersonPrefs.person_id == Person.id)
        .where(PersonPrefs.nudges_opt_out | PersonPrefs.digest_opt_out)
        .order_by(Person.email)
    )
    lines = []
    for email, nudges, digest in rows:
        what = " and ".join(
            name for name, on in (("nudges", nudges), ("digest", digest)) if on
        )
        lines.append(f"• {esc(email)}: {what}")
    body = "\n".join(lines[:LIST_LIMIT]) or "Nobody has opted out."
    if len(lines) > LIST_LIMIT:
        body += f"\n• and {len(lines) - LIST_LIMIT} more"
    return "*Opted out*\n" + body


async def _unreachable(ctx: AskContext) -> str:
    """People Slack messages cannot reach, with the reason recorded at look-up."""
    rows = await ctx.session.execute(
        select(SlackUser.email, SlackUser.status)
        .where(SlackUser.status != "ok")
        .order_by(SlackUser.email)
    )
    lines = [
        f"• {esc(email)}: {esc(UNREACHABLE.get(status, status))}"
        for email, status in rows
    ]
    skipped = await ctx.session.execute(
        select(LedgerEntry.recipient, LedgerEntry.kind, LedgerEntry.reason)
        .where(LedgerEntry.state == "skipped")
        .order_by(LedgerEntry.updated_at.desc())
        .limit(LIST_LIMIT)
    )
    for recipient, kind, reason in skipped:
        lines.append(
            f"• {esc(recipient)}: {esc(kind)} skipped, {esc(reason or 'no reason')}"
        )
    body = (
        "\n".join(lines[:LIST_LIMIT])
        or "Everyone looked up so far can receive messages."
    )
    return "*Cannot receive messages*\n" + body


async def _set(ctx: AskContext, words: list[str]) -> Message:
    if len(words) < 2:
        raise UserError(
            "write `/aispend admin set KEY VALUE`; keys: " + ", ".join(KEYS)
        )
    name, raw = words[0].lower(), " ".join(words[1:])
    key = KEYS.get(name)
    if key is None:
        raise UserError(
            f"{name!r} is not a setting admins can change; keys: " + ", ".join(KEYS)
        )
    value = key.parse(raw, ctx)
    return await _store(ctx, name, value)


async def _store(ctx: AskContext, name: str, value: Any) -> Message:
    # TODO: admin changes wait SQLite's full busy timeout while an import writes,
    # then fail with the generic error, because only personal settings use the
    # bounded write of usage.prefs; nothing is half-saved either way.
    old = ctx.settings.get(name)
    await store_setting(ctx.session, key=name, value=value, actor=ctx.asker.email)
    await ctx.session.commit()
    note = ""
    if name == "pricing.price_table":
        # TODO: usage already imported keeps its old prices because re-pricing
        # stored records is not implemented; only new imports use the new table.
        note = " New imports use it; usage imported before keeps its prices."
    return _done(
        f"`{name}` is now {esc(_shown(value))} (was {esc(_shown(old))}).{note}",
        f"{name} changed",
    )


def _done(body: str, text: str) -> Message:
    return finalize(
        f"Saved: {text}",
        [
            section(f":white_check_mark: Saved. {body}"),
            context("Written to the audit log (`/aispend admin audit`)."),
        ],
    )


async def _privacy_action(ctx: AskContext, words: list[str]) -> Message:
    if len(words) != 1:
        raise UserError("write `/aispend admin privacy aggregate` or `… individuals`")
    return await _store(ctx, "privacy.manager_view", _privacy(words[0], ctx))


async def _budget(ctx: AskContext, words: list[str]) -> Message:
    if len(words) < 2:
        raise UserError(
            "write `/aispend admin budget TEAM USD` (or `none` to remove it)"
        )
    *name_words, raw = words
    team_name = " ".join(name_words)
    found = ctx.tree.by_name(team_name)
    if found is None:
        names = ", ".join(sorted(t.name for t in ctx.tree.teams.values())[:20])
        raise UserError(f"there is no team called {team_name!r}. Teams: {names}")
    if raw.lower() in ("none", "off", "0"):
        micros = None
    else:
        amount = _number(raw, low=0, high=10**9, name="a budget")
        micros = int(Decimal(str(amount)) * MICROS)
    team = await ctx.session.get(Team, found.id)
    old = team.monthly_budget_micros
    team.monthly_budget_micros = micros
    ctx.session.add(
        AuditEntry(
            actor=ctx.asker.email,
            action="team.budget",
            detail={"team": team.name, "old_micros": old, "new_micros": micros},
        )
    )
    await ctx.session.commit()
    shown = usd(micros) if micros else "no budget"
    was = usd(old) if old else "no budget"
    # TODO: a later directory import with a budget column replaces this value,
    # because teams.csv stays the source of truth for budgets it names.
    return _done(
        f"Team {esc(team.name)}'s monthly budget is now {shown} (was {was}).",
        f"budget of {team.name}",
    )


async def _exclusion(ctx: AskContext, words: list[str], *, add: bool) -> Message:
    verb = "exclude" if add else "include"
    if len(words) != 1:
        raise UserError(f"write `/aispend admin {verb} EMAIL`")
    email = _email_word(words[0])
    if email is None:
        raise UserError(f"{words[0]!r} is not an email address")
    current = [e.lower() for e in ctx.settings.get("excluded.emails") or []]
    if add and email in current:
        raise UserError(f"{email} is already excluded")
    if not add and email not in current:
        raise UserError(f"{email} is not excluded")
    changed = [*current, email] if add else [e for e in current if e != email]
    await store_setting(
        ctx.session, key="excluded.emails", value=sorted(changed), actor=ctx.asker.email
    )
    await ctx.session.commit()
    what = "excluded from nudges and digests" if add else "included again"
    return _done(f"{esc(email)} is {what}.", f"{email} {verb}d")


def _email_word(word: str) -> str | None:
    if match := MAILTO.match(word):
        return match[1].lower()
    return word.lower() if EMAIL.match(word) else None


async def _person(ctx: AskContext, word: str) -> Person:
    found: Person | None = None
    if match := MENTION.match(word):
        found = await person_by_slack_id(ctx.session, match[1])
        if found is None:
            cached = await ctx.session.execute(
                select(SlackUser.email).where(SlackUser.slack_user_id == match[1])
            )
            email = cached.scalars().first()
            found = await person_by_email(ctx.session, email) if email else None
    elif email := _email_word(word):
        found = await person_by_email(ctx.session, email)
    if found is None:
        raise UserError(
            f"{word!r} is nobody in the directory; use their email or mention them"
        )
    return found


async def _opt(ctx: AskContext, words: list[str], *, out: bool) -> Message:
    verb = "optout" if out else "optin"
    if len(words) != 2 or words[1].lower() not in KIND_WORDS:
        raise UserError(f"write `/aispend admin {verb} EMAIL nudges` (or `digest`)")
    target = await _person(ctx, words[0])
    kind = KIND_WORDS[words[1].lower()]
    await save_prefs(
        ctx.session,
        person_id=target.id,
        changes={f"{kind}_opt_out": out},
        actor=ctx.asker.email,
        subject=target.email,
    )
    what = "spend nudges" if kind == "nudges" else "the weekly digest"
    state = "no longer gets" if out else "gets"
    return _done(
        f"{esc(target.name)} ({esc(target.email)}) {state} {what}.",
        f"{target.email} {verb} {kind}",
    )


async def _audit(ctx: AskContext, words: list[str]) -> Message:
    rows = (
        await ctx.session.execute(
            select(AuditEntry)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(AUDIT_LINES)
        )
    ).scalars()
    lines = [
        f"• {entry.at:%Y-%m-%d %H:%M} UTC · {esc(entry.actor)} · {esc(_describe(entry))}"
        for entry in rows
    ]
    body = "\n".join(lines) or "No changes recorded yet."
    return finalize(
        "aispend audit log",
        [
            header("aispend audit log"),
            section(body),
            context(f"The latest {plural(AUDIT_LINES, 'change')}, newest first."),
        ],
    )


def _describe(entry: AuditEntry) -> str:
    detail = entry.detail or {}
    if entry.action == "setting.change":
        old = detail.get("old")
        was = "the default" if old is None else _shown(old)
        return f"{detail.get('key')}: {was} → {_shown(detail.get('new'))}"
    if entry.action == "team.budget":
        old, new = detail.get("old_micros"), detail.get("new_micros")
        return (
            f"budget of {detail.get('team')}: {usd(old) if old else 'none'} → "
            f"{usd(new) if new else 'none'}"
        )
    if entry.action == "prefs.change":
        changes = ", ".join(
            f"{k} → {_shown(v)}" for k, v in (detail.get("changes") or {}).items()
        )
        whose = detail.get("person") or f"person #{detail.get('person_id')}"
        return f"settings of {whose}: {changes}"
    return entry.action


ACTIONS = {
    "show": _show,
    "set": _set,
    "budget": _budget,
    "privacy": _privacy_action,
    "exclude": lambda ctx, words: _exclusion(ctx, words, add=True),
    "include": lambda ctx, words: _exclusion(ctx, words, add=False),
    "optout": lambda ctx, words: _opt(ctx, words, out=True),
    "optin": lambda ctx, words: _opt(ctx, words, out=False),
    "audit": _audit,
}
