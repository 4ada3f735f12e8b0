"""Import speed of a large LiteLLM spend-log export, against reading it with ``csv``."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.measure import Stopwatch
from usage.ingest import ingest_litellm_file

HEADER = (
    "request_id",
    "call_type",
    "startTime",
    "endTime",
    "model",
    "custom_llm_provider",
    "user",
    "team_id",
    "spend",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "status",
)
MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "gpt-5-mini", "gpt-5")


@dataclass(frozen=True)
class IngestResult:
    rows: int
    seconds: float
    csv_seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def ratio(self) -> float:
        return self.seconds / self.csv_seconds


def write_export(path: Path, rows: int, *, people: int = 1000, seed: int = 3) -> None:
    rng = random.Random(seed)
    start = datetime(
        2025, 12, 1, tzinfo=UTC
    )  # a million rows 30 s apart stay in the past
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index in range(rows):
            at = (start + timedelta(seconds=index * 30)).strftime("%Y-%m-%dT%H:%M:%SZ")
            prompt, completion = rng.randint(1000, 60000), rng.randint(100, 4000)
            writer.writerow(
                [
                    f"req-{index:09d}",
                    "acompletion",
                    at,
                    at,
                    rng.choice(MODELS),
                    "anthropic",
                    f"person{rng.randrange(people):06d}@bench.example",
                    "t",
                    f"{rng.random() * 0.2:.6f}",
                    prompt,
                    completion,
                    prompt + completion,
                    "success",
                ]
            )


def read_with_csv(path: Path) -> float:
    with Stopwatch() as watch, path.open(newline="") as handle:
        for _ in csv.reader(handle):
            pass
    return watch.seconds


async def ingest_speed(sessions, path: Path) -> IngestResult:
    baseline = read_with_csv(path)
    with Stopwatch() as watch:
        report = await ingest_litellm_file(sessions, path=path)
    return IngestResult(report.imported, watch.seconds, baseline)
