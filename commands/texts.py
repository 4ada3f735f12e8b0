"""What people read when something is refused, misunderstood or goes wrong, and the help."""

from __future__ import annotations

from commands.message import Message, context, esc, finalize, header, section

UNKNOWN_ASKER = (
    "I don't know you yet: your account is not in aispend's directory. "
    "Ask an admin to add you (`aispend people import`)."
)
ADMIN_ONLY = "That is for aispend admins. Your own figures are always at `/aispend me`."
PERSON_NOT_FOUND = (
    "I can't find that person in the directory. Mention them with @ or use their email."
)
INTERNAL_ERROR = (
    ":warning: Something went wrong on our side (reference `{reference}`). "
    "It has been logged; please try again in a minute."
)
PERIOD_WORDS = (
    "this week · last week · this month · last month · 30 days · 2026-W48 · "
    "2026-11 · november · 2026-11-02..2026-11-08 · today · yesterday"
)


def simple(text: str) -> Message:
    return finalize(_strip(text), [section(text)])


def _strip(text: str) -> str:
    return text.replace("*", "").replace("`", "")


def not_understood(text: str, suggestion: str | None) -> Message:
    shown = esc(text[:80]) or " "
    body = f"I didn't catch `{shown}`."
    if suggestion:
        body += f" Did you mean `/aispend {esc(suggestion)}`?"
    body += " Type `/aispend help` to see everything I can answer."
    return simple(body)


def refusal(what: str, who_can: str) -> Message:
    body = f"You can't see {esc(what)}. {esc(who_can)}"
    body += " Your own figures are always at `/aispend me`, and team totals at `/aispend team`."
    return simple(body)


def team_not_found(name: str, ctx) -> str:
    names = sorted(t.name for t in ctx.tree.teams.values())
    listed = ", ".join(names[:20]) + (" …" if len(names) > 20 else "")
    return f"there is no team called {name!r}. Teams: {listed}"


def help_message(ctx) -> Message:
    from commands.grammar import REGISTRY

    lines = [
        f"• `/aispend {esc(cmd.usage)}`: {esc(cmd.summary)}"
        for cmd in REGISTRY.values()
        if not cmd.admin_only or ctx.is_admin
    ]
    blocks = [
        header("aispend: AI spend, without a contest"),
        section("\n".join(lines)),
        section(f"*PERIOD* can be: {PERIOD_WORDS}. Without one you get this week."),
        context(
            "Nobody is ranked. You always see your own figures; teams and the org are shown "
            "as totals without names."
        ),
    ]
    return finalize("aispend help: " + ", ".join(REGISTRY), blocks)
