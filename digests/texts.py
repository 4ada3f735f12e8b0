"""Short texts shared by the templates: output labels, freshness, button labels."""

from __future__ import annotations

from usage.spend import Freshness

OUTPUT_LABELS = {
    "prs_merged": ("merged PR", "merged PRs"),
    "claude_code_commits": ("commit by Claude Code", "commits by Claude Code"),
    "claude_code_prs": ("PR by Claude Code", "PRs by Claude Code"),
    "claude_code_sessions": ("Claude Code session", "Claude Code sessions"),
    "lines_added": ("line added", "lines added"),
    "lines_removed": ("line removed", "lines removed"),
    "commits": ("commit", "commits"),
    "sessions": ("session", "sessions"),
    "lines_accepted": ("line accepted", "lines accepted"),
}
NO_OUTPUT = (
    "No output source (GitHub, Claude Code analytics, Copilot) is connected for "
    "this period, so there is nothing to put next to the spend."
)
OVERFLOW = (
    "{count} more part(s) left out to fit one message; `/aispend team` has the rest."
)

NUDGE_BUTTONS = (
    ("thanks", "Thanks", "primary"),
    ("snooze", "Snooze 2 weeks", None),
    ("why", "Why am I getting this?", None),
    ("stop", "Stop these", "danger"),
)
ALERT_BUTTONS = (
    ("expected", "Expected", "primary"),
    ("not_expected", "Not expected", None),
)


def output_parts(output: dict[str, int]) -> list[str]:
    """``["3 merged PRs", "5 commits by Claude Code", …]`` in a fixed order."""
    parts = []
    for metric, (one, many) in OUTPUT_LABELS.items():
        if metric in output:
            count = output[metric]
            parts.append(f"{count:,} {one if count == 1 else many}")
    for metric in sorted(set(output) - set(OUTPUT_LABELS)):
        parts.append(f"{output[metric]:,} {metric.replace('_', ' ')}")
    return parts


def freshness(fresh: Freshness) -> str:
    if fresh.latest_day is None:
        return "No usage has been imported yet."
    text = f"Data up to {fresh.latest_day:%b %-d, %Y}"
    if fresh.last_import_at is not None:
        text += f", last import {fresh.last_import_at:%b %-d %H:%M} UTC"
    failing = [s.source for s in fresh.sources if s.last_error]
    if failing:
        text += f"; failing sources: {', '.join(failing)}"
    return text + "."
