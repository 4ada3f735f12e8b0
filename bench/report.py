"""BENCHMARKS.md: every figure with its target, the date and the machine."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

NARRATIVE = Path(__file__).with_name("narrative.md")


@dataclass
class Row:
    figure: str
    target: str
    measured: str
    met: bool | None  # None: reported, no pass/fail

    @property
    def verdict(self) -> str:
        return {True: "met", False: "missed", None: "reported"}[self.met]


@dataclass
class Report:
    title: str
    setup: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: list[str] = field(default_factory=list)  # how long each section took

    def add(self, figure: str, target: str, measured: str, met: bool | None) -> None:
        self.rows.append(Row(figure, target, measured, met))

    def markdown(self) -> str:
        lines = [f"# {self.title}", "", *machine_lines(), "", *self.setup, ""]
        lines += ["| figure | target | measured | |", "|---|---|---|---|"]
        lines += [
            f"| {r.figure} | {r.target} | {r.measured} | {r.verdict} |"
            for r in self.rows
        ]
        if self.notes:
            lines += ["", *self.notes]
        if self.timings:
            lines += ["", f"Time per section: {'; '.join(self.timings)}."]
        lines += ["", NARRATIVE.read_text().strip()]
        return "\n".join(lines) + "\n"


def machine_lines() -> list[str]:
    memory = "unknown"
    try:
        with open("/proc/meminfo") as handle:
            kib = int(handle.readline().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"Run on {now}: {os.cpu_count()} cores, {memory} memory, "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}."
    ]
