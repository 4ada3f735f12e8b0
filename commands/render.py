"""Spend summaries as Block Kit. Names of people never appear here: only the
subject's own figures, teams, tools and models."""

from __future__ import annotations

from datetime import UTC, date, datetime

from commands.message import (
    Message,
    context,
    divider,
    esc,
    fields_section,
    finalize,
    header,
    percent,
    plural,
    section,
    tokens,
    usd,
)
from usage.settings import Settings
from usage.spend import OTHER_TEAMS, Budget, Freshness, SpendSummary, Usual

OUTPUT_LABELS = {
    "prs_merged": ("merged PR", "merged PRs"),
    "claude_code_commits": ("commit by Claude Code", "commits by Claude Code"),
    "claude_code_prs": ("PR by Claude Code", "PRs by Claude Code"),
    "claude_code_sessions": ("Claude Code session", "Claude Code sessions"),
    "lines_added": ("line added", "lines added"),
    "lines_removed": ("line removed", "lines removed"),
}
OUTPUT_SOURCES = ("github", "claude-code", "claude_code", "copilot")
MAX_MODEL_LINES = 12


def comparison(total: int, usual: Usual | None, *, whose: str) -> str:
    """``2.4× your usual ($120.00, median of the previous 8 weeks)``."""
    if usual is None:
        return f"Not enough history yet to say what {whose} usual is."
    basis = f"{usd(usual.median_micros)}, {usual.basis}"
    if usual.median_micros <= 0:
        return f"{whose.capitalize()} usual is $0.00 ({usual.basis})."
    ratio = total / usual.median_micros
    if ratio >= 1.15:
        return f"That is {ratio:.1f}× {whose} usual ({basis})."
    if ratio <= 0.85:
        return f"That is {percent(1 - ratio)} below {whose} usual ({basis})."
    return f"That is about {whose} usual ({basis})."


def output_line(summary: SpendSummary) -> str:
    """What the spend went with, or a plain statement that no output source is connected."""
    parts = []
    for metric, (one, many) in OUTPUT_LABELS.items():
        if metric in summary.output:
            count = summary.output[metric]
            parts.append(f"{count:,} {one if count == 1 else many}")
    for metric, count in sorted(summary.output.items()):
        if metric not in OUTPUT_LABELS:
            parts.append(f"{count:,} {esc(metric.replace('_', ' '))}")
    if not parts:
        connected = any(s.source in OUTPUT_SOURCES for s in summary.freshness.sources)
        if connected:
            return "*What it went with:* no merged PRs or commits were recorded in this period."
        return (
            "*What it went with:* no output source (GitHub, Claude Code analytics) is "
            "connected yet, so there is nothing to set next to the spend."
        )
    line = "*What it went with:* " + " · ".join(parts) + "."
    per_pr = summary.cost_per_pr_micros
    if per_pr is not None:
        line += f" About {usd(per_pr)} per merged PR."
    return line


def budget_line(budget: Budget, *, whose: str) -> str:
    month = f"{budget.month.start:%B} ({budget.label})"
    through = f"{budget.as_of:%b} {budget.as_of.day}"
    text = (
        f"*{whose} budget for {month}:* {usd(budget.spent_micros)} of "
        f"{usd(budget.budget_micros)} ({percent(budget.share)}) through {through}."
    )
    if budget.as_of < budget.month.last_day:
        text += f" At the recent pace the month ends near {usd(budget.forecast_micros)}"
        text += f" ({percent(budget.forecast_share)})."
    if budget.crosses_on is not None:
        day = f"{budget.crosses_on:%b} {budget.crosses_on.day}"
        verb = (
            "was crossed on"
            if budget.crosses_on <= budget.as_of
            else "would be crossed around"
        )
        text += f" The budget {verb} {day}."
    if budget.incomplete:
        text += " :warning: Some usage is unpriced, so the real figure is higher."
    return text


def unpriced_line(summary: SpendSummary) -> str:
    models = ", ".join(esc(m) for m in summary.unpriced_models)
    return (
        f":warning: Also {plural(summary.unpriced_requests, 'request')}, "
        f"{tokens(summary.unpriced_tokens)} tokens *unpriced* ({models}): the model is not "
        "in the price table, so it is not in the totals above (admins see it flagged in "
        "`/aispend sources`)."
    )


def freshness_line(
    fresh: Freshness, settings: Settings, *, now: datetime | None = None
) -> str:
    zone = settings.get("organisation.reporting_timezone") or "UTC"
    parts = [f"Days in {esc(zone)}"]
    if fresh.latest_day is None:
        parts.append("no data imported yet")
    else:
        parts.append(f"data through {_day(fresh.latest_day)}")
    if fresh.last_import_at is not None:
        parts.append(
            f"last import {fresh.last_import_at.astimezone(UTC):%b %d %H:%M} UTC"
        )
    failing = [s.source for s in fresh.sources if s.last_error]
    if failing:
        parts.append(
            ":warning: last pull failed: " + ", ".join(esc(s) for s in failing)
        )
    return " · ".join(parts)


def _day(day: date) -> str:
    return f"{day:%a} {day:%b} {day.day}, {day.year}"


def _tool_fields(summary: SpendSummary, settings: Settings) -> list[str]:
    total = summary.total_micros or 1
    return [
        f"*{esc(settings.tool_label(line.name))}*\n{usd(line.cost_micros)} · "
        f"{share(line.cost_micros, total)}"
        for line in summary.by_tool[:10]
    ]


def share(part: int, whole: int) -> str:
    if whole <= 0:
        return "0%"
    value = part / whole
    return "<1%" if 0 < value < 0.005 else percent(value)


def _model_lines(summary: SpendSummary) -> str:
    shown = summary.by_model[:MAX_MODEL_LINES]
    lines = [
        f"• {esc(line.name)}: {usd(line.cost_micros)}"
        + (
            f" + {tokens(line.unpriced_tokens)} tokens unpriced"
            if line.unpriced_tokens
            else ""
        )
        for line in shown
    ]
    rest = summary.by_model[MAX_MODEL_LINES:]
    if rest:
        lines.append(
            f"• {plural(len(rest), 'more model')}: {usd(sum(r.cost_micros for r in rest))}"
        )
    return "*By model*\n" + "\n".join(lines)


def spend_message(
    summary: SpendSummary,
    *,
    title: str,
    whose: str,
    settings: Settings,
    extra: list[dict] | None = None,
    show_unattributed: bool = False,
) -> Message:
    """The answer for one scope and period."""
    period = summary.period
    blocks = [header(f"{title} · {period.label}")]
    if not summary.has_data:
        blocks.append(section(f"No AI spend recorded for {esc(period.label)}."))
    else:
        word = "on" if period.kind == "day" else "in"
        headline = f"*{usd(summary.total_micros)}* {word} {esc(period.label)}."
        if summary.scope.kind == "team" and summary.subteams:
            headline += " Sub-teams included."
        blocks.append(
            section(
                headline
                + " "
                + comparison(summary.total_micros, summary.usual, whose=whose)
            )
        )
        if summary.by_tool:
            blocks.append(fields_section(_tool_fields(summary, settings)))
        if summary.by_model:
            blocks.append(section(_model_lines(summary)))
    if summary.scope.kind == "team":
        blocks += _team_blocks(summary)
    blocks.append(section(output_line(summary)))
    if summary.budget is not None:
        blocks.append(section(budget_line(summary.budget, whose=whose.capitalize())))
    if summary.unpriced_tokens:
        blocks.append(section(unpriced_line(summary)))
    if show_unattributed and summary.unattributed_micros:
        blocks.append(
            section(
                f"{usd(summary.unattributed_micros)} of this could not be matched to anyone in the "
                "directory (kept as *unattributed*; see `/aispend sources`)."
            )
        )
    blocks += extra or []
    blocks += [divider(), context(freshness_line(summary.freshness, settings))]
    text = f"{esc(title)} for {period.label}: {usd(summary.total_micros)}"
    if summary.usual is not None:
        text += f" (usual {usd(summary.usual.median_micros)})"
    return finalize(text + ".", blocks)


def _team_blocks(summary: SpendSummary) -> list[dict]:
    blocks = []
    if summary.subteams:
        named = [line for line in summary.subteams if line.name != OTHER_TEAMS]
        lines = [
            f"• {esc(line.name)}: {usd(line.cost_micros)}"
            for line in sorted(named, key=lambda line: line.name.lower())
        ]
        if summary.direct_micros is not None:
            lines.append(
                f"• direct members of {esc(summary.scope.label)}: {usd(summary.direct_micros)}"
            )
        lines += [
            f"• other teams and members: {usd(line.cost_micros)}"
            for line in summary.subteams
            if line.name == OTHER_TEAMS
        ]
        blocks.append(section("*Sub-teams*\n" + "\n".join(lines)))
    if summary.people_with_spend is not None:
        blocks.append(
            context(
                plural(summary.people_with_spend, "person", "people")
                + " used AI tools in this period."
            )
        )
    return blocks


def caps_block(caps: list[Budget]) -> dict | None:
    """Personal per-tool monthly caps, as one section."""
    if not caps:
        return None
    first = caps[0]
    lines = [
        f"• {esc(cap.label.split(',')[0])}: {usd(cap.spent_micros)} of {usd(cap.budget_micros)} "
        f"({share(cap.spent_micros, cap.budget_micros)})"
        + (" :warning:" if cap.share >= 0.8 else "")
        for cap in caps
    ]
    return section(
        f"*Your per-tool monthly caps, {first.month.start:%B} ({first.label.split(', ')[-1]}):*\n"
        + "\n".join(lines)
    )
