"""Timing helpers: percentiles over many calls, and wall-clock sections."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timings:
    samples_ms: tuple[float, ...]

    def pct(self, share: float) -> float:
        ordered = sorted(self.samples_ms)
        index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
        return ordered[index]

    @property
    def p50(self) -> float:
        return self.pct(0.50)

    @property
    def p95(self) -> float:
        return self.pct(0.95)

    @property
    def p99(self) -> float:
        return self.pct(0.99)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms)

    def summary(self) -> str:
        return f"p50 {self.p50:.1f} / p95 {self.p95:.1f} / p99 {self.p99:.1f} ms"


async def timed_calls(call: Callable[[int], Awaitable[object]], count: int) -> Timings:
    samples = []
    for index in range(count):
        started = time.perf_counter()
        await call(index)
        samples.append((time.perf_counter() - started) * 1000)
    return Timings(tuple(samples))


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_exc) -> None:
        self.seconds = time.perf_counter() - self.started
