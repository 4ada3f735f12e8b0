"""``python -m bench``: build synthetic organisations and measure aispend on them.

The full run (``--people 10000 --days 365``) measures every figure of
BENCHMARKS.md on SQLite and PostgreSQL; ``--quick`` runs the same code at a
small scale (the test suite does that, so the benchmark never rots).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from pathlib import Path

from bench.run import BACKENDS, SECTIONS, Plan, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--calls", type=int, default=1000, help="answers timed per question"
    )
    parser.add_argument("--naive-people", type=int, default=1000)
    parser.add_argument("--ingest-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL server for the same measurements ('' to skip)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("bench-data"))
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    parser.add_argument(
        "--quick", action="store_true", help="a small run (200 people x 60 days)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable; default: all)",
    )
    parser.add_argument(
        "--backend",
        action="append",
        choices=BACKENDS,
        help="measure only this database (repeatable; default: both)",
    )
    args = parser.parse_args(argv)
    plan = Plan.quick(args) if args.quick else Plan.from_args(args)
    plan = dataclasses.replace(
        plan,
        out=args.out,
        sections=tuple(s for s in SECTIONS if s in (args.only or SECTIONS)),
        backends=tuple(b for b in BACKENDS if b in (args.backend or BACKENDS)),
    )
    report = asyncio.run(run(plan))
    args.out.write_text(report.markdown())
    print(report.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
