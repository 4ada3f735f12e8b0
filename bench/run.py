"""The benchmark run: which organisations to build, what to time, and the report."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bench import answers, ingest, naive, slack
from bench.generate import Org, fill
from bench.measure import Stopwatch
from bench.report import Report
from usage.db import make_engine, make_sessionmaker
from usage.migrate import upgrade_engine
from usage.pricing import Tokens, load_price_table

logger = logging.getLogger(__name__)

ANSWER_P95_MS = 50
YEAR_OVER_MONTH = 1.5
NAIVE_FACTOR = 50
NAIVE_CALLS = 30
INGEST_RATIO = 3
DIGEST_MS = 20
ACK_P99_MS = 100
PEAK_MB = 200
DELIVERY_RATIO = 1.5
RUN_MINUTES = 30
SECTIONS = ("answers", "naive", "ingest")
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Plan:
    people: int
    days: int
    calls: int
    naive_people: int
    ingest_rows: int
    postgres: str
    workdir: Path
    end: object = None
    digests: int = 1000
    http_rounds: int = 20
    sections: tuple[str, ...] = SECTIONS
    backends: tuple[str, ...] = BACKENDS
    out: Path | None = (
        None  # written after every section, so a long run keeps its figures
    )

    @classmethod
    def from_args(cls, args) -> Plan:
        return cls(
            args.people,
            args.days,
            args.calls,
            args.naive_people,
            args.ingest_rows,
            args.postgres,
            args.workdir,
        )

    @classmethod
    def quick(cls, args) -> Plan:
        return cls(200, 60, 50, 50, 5_000, args.postgres, args.workdir, None, 20, 2)

    @property
    def last_day(self):
        return self.end or datetime.now(UTC).date()


@asynccontextmanager
async def database(plan: Plan, backend: str, name: str) -> AsyncIterator:
    """A fresh, migrated database: a SQLite file, or a schema of its own on PostgreSQL."""
    if backend == "sqlite":
        plan.workdir.mkdir(parents=True, exist_ok=True)
        path = plan.workdir / f"{name}.db"
        _remove_sqlite_files(path)
        engine = make_engine(f"sqlite:///{path}")
        try:
            await upgrade_engine(engine)
            yield engine
        finally:
            await engine.dispose()
        return
    schema = f"bench_{name}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(plan.postgres)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{plan.postgres}?options=-csearch_path%3D{schema}")
    try:
        await upgrade_engine(engine)
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _postgres_available(url: str) -> bool:
    if not url:
        return False
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        logger.warning("no PostgreSQL at the given URL; measuring SQLite only")
        return False
    finally:
        await engine.dispose()


async def _build(engine, org: Org) -> tuple[int, float]:
    with Stopwatch() as watch:
        rows = await fill(engine, org, prices=load_price_table())
    # What autovacuum does on a live database: statistics, and on PostgreSQL the
    # visibility map that lets reads answer from an index without the table.
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(
                isolation_level="AUTOCOMMIT"
            )
            await autocommit.execute(text("VACUUM ANALYZE"))
    else:
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    return rows, watch.seconds


async def _answers(plan: Plan, backend: str, report: Report) -> None:
    end = plan.last_day + timedelta(days=1)
    year = Org(plan.people, plan.days, end)
    month = Org(plan.people, 30, end)
    async with database(plan, backend, "year") as engine:
        rows, seconds = await _build(engine, year)
        report.notes.append(
            f"- {backend}: {plan.people:,} people x {plan.days} days = {rows:,} usage rows "
            f"written and rolled up in {seconds:.0f} s."
        )
        year_times = await answers.answer_timings(
            make_sessionmaker(engine), year, calls=plan.calls
        )
        await _digests(plan, backend, engine, year, report)
        if backend == "sqlite":
            await _bot(plan, engine, year, report)
            await _delivery(plan, engine, year, report)
    async with database(plan, backend, "month") as engine:
        await _build(engine, month)
        month_times = await answers.answer_timings(
            make_sessionmaker(engine), month, calls=plan.calls
        )
    for name, timing in year_times.items():
        report.add(
            f"`{name}` answer, {plan.people:,} people x {plan.days} days, {backend} "
            f"({plan.calls} calls)",
            f"p95 <= {ANSWER_P95_MS} ms",
            timing.summary(),
            timing.p95 <= ANSWER_P95_MS,
        )
    for name, timing in year_times.items():
        ratio = timing.p95 / month_times[name].p95
        report.add(
            f"`{name}` p95 at {plan.days} days over 30 days, {backend}",
            f"<= {YEAR_OVER_MONTH}",
            f"{ratio:.2f} ({timing.p95:.1f} / {month_times[name].p95:.1f} ms)",
            ratio <= YEAR_OVER_MONTH,
        )


async def _digests(plan: Plan, backend: str, engine, org: Org, report: Report) -> None:
    timings, managers = await slack.digest_timings(
        make_sessionmaker(engine), org, count=plan.digests
    )
    report.add(
        f"{plan.digests:,} manager digests computed and rendered ({managers} managers, "
        f"{org.people:,} people), {backend}",
        f"<= {DIGEST_MS} ms each",
        f"mean {timings.mean:.1f} ms; {timings.summary()}",
        timings.p95 <= DIGEST_MS,
    )


async def _bot(plan: Plan, engine, org: Org, report: Report) -> None:
    url = engine.url.render_as_string(hide_password=False)
    result = await slack.bot_under_load(url, org, rounds=plan.http_rounds)
    report.add(
        f"signed `/aispend` to `aispend run --http`, 50 at a time, {plan.http_rounds * 50:,} "
        "requests, fake Slack on loopback",
        f"ack p99 <= {ACK_P99_MS} ms; answers never >= 3 s",
        f"ack {result.acks.summary()}; answer {result.answers.summary()}, slowest "
        f"{max(result.answers.samples_ms):.0f} ms; "
        f"{result.failures} failed",
        result.acks.p99 <= ACK_P99_MS
        and max(result.answers.samples_ms) < 3000
        and result.failures == 0,
    )
    report.add(
        "load: 200 concurrent slash commands and 50 concurrent Home tab opens",
        "none fails, none over 3 s",
        f"{result.extra['burst_failures']} failed; slowest {result.worst_ms:.0f} ms "
        f"(answer or Home tab shown); {result.extra['home_published']} Home tabs "
        "published",
        result.extra["burst_failures"] == 0 and result.worst_ms < 3000,
    )
    report.add(
        f"peak memory of the bot serving the {org.people:,}-person org (VmHWM)",
        f"<= {PEAK_MB} MB",
        f"{result.peak_rss_mb:.0f} MB",
        result.peak_rss_mb <= PEAK_MB,
    )


async def _delivery(plan: Plan, engine, org: Org, report: Report) -> None:
    result = await slack.delivery_run(
        make_sessionmaker(engine), org, count=plan.digests
    )
    report.add(
        f"{result.delivered:,} digests delivered to a fake Slack with 50 ms latency and "
        "two 429s (Retry-After 2 s)",
        f"wall / minimum <= {DELIVERY_RATIO}, each delivered once",
        f"{result.seconds:.1f} s / {result.minimum_seconds:.1f} s = {result.ratio:.2f}; "
        f"{result.duplicates} sent twice ({result.api_calls:,} Web API calls)",
        result.ratio <= DELIVERY_RATIO and result.duplicates == 0,
    )


async def _naive(plan: Plan, backend: str, report: Report) -> None:
    org = Org(plan.naive_people, plan.days, plan.last_day + timedelta(days=1))
    prices = load_price_table()

    def price_of(model: str, scale: float) -> float:
        base = int(200_000 * scale)
        tokens = Tokens(
            input=base, cache_read=base * 3, cache_write_5m=base // 8, output=base // 10
        )
        return float(prices.cost(model, tokens, long_context=False))

    async with database(plan, backend, "naive") as engine:
        await _build(engine, org)
        raw = await naive.fill_naive(engine, org, price_of=price_of)
        ours = (
            await answers.answer_timings(
                make_sessionmaker(engine), org, calls=plan.calls, questions=("team",)
            )
        )["team"]
        # About a second each on SQLite: a few dozen give a steady median.
        theirs = await naive.naive_team_timings(engine, org, calls=NAIVE_CALLS)
    factor = theirs.p50 / ours.p50
    report.add(
        f"team answer vs GROUP BY over {raw:,} raw request rows "
        f"({plan.naive_people:,} people x {plan.days} days), {backend}",
        f">= {NAIVE_FACTOR}x faster",
        f"{factor:.0f}x (p50 {ours.p50:.1f} ms over {len(ours.samples_ms):,} answers "
        f"vs {theirs.p50:.1f} ms over {len(theirs.samples_ms)})",
        factor >= NAIVE_FACTOR,
    )


async def _ingest(plan: Plan, backend: str, report: Report) -> None:
    plan.workdir.mkdir(parents=True, exist_ok=True)
    path = plan.workdir / f"litellm-{plan.ingest_rows}.csv"
    if not path.exists():
        ingest.write_export(path, plan.ingest_rows)
    async with database(plan, backend, "ingest") as engine:
        result = await ingest.ingest_speed(make_sessionmaker(engine), path)
    report.add(
        f"ingest of a {plan.ingest_rows:,}-row LiteLLM export, {backend}",
        f"time / csv read <= {INGEST_RATIO} (stretch)",
        f"{result.rows_per_second:,.0f} rows/s; {result.seconds:.1f} s vs "
        f"{result.csv_seconds:.2f} s = {result.ratio:.0f}x",
        result.ratio <= INGEST_RATIO,
    )


async def run(plan: Plan) -> Report:
    report = Report("aispend benchmarks")
    backends = [b for b in plan.backends if b == "sqlite"]
    if "postgresql" in plan.backends and await _postgres_available(plan.postgres):
        backends.append("postgresql")
    whole_run = plan.sections == SECTIONS and len(backends) == len(BACKENDS)
    report.setup.append(
        f"`python -m bench --people {plan.people} --days {plan.days} --calls {plan.calls}` "
        f"on {', '.join(backends)}"
        + ("." if whole_run else f", sections: {', '.join(plan.sections)}.")
    )
    parts = {"answers": _answers, "naive": _naive, "ingest": _ingest}
    with Stopwatch() as whole:
        for backend in backends:
            for section in (parts[name] for name in plan.sections):
                with Stopwatch() as part:
                    await section(plan, backend, report)
                report.timings.append(
                    f"{backend} {section.__name__.strip('_')}: {part.seconds:.0f} s"
                )
                if plan.out is not None:
                    plan.out.write_text(report.markdown())
    minutes = whole.seconds / 60
    report.add(
        f"the whole run, `--people {plan.people} --days {plan.days}`, "
        f"{' and '.join(backends)}",
        f"<= {RUN_MINUTES} minutes on 2 cores",
        f"{minutes:.1f} minutes on {os.cpu_count()} cores",
        minutes <= RUN_MINUTES if whole_run else None,
    )
    return report
