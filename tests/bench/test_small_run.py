"""A small benchmark run in the suite, so the full one never rots. Times are
reported, never asserted."""

from datetime import date

from bench.report import Report
from bench.run import Plan, run


async def test_small_run_reports_every_figure(tmp_path):
    plan = Plan(
        people=60,
        days=40,
        calls=5,
        naive_people=20,
        ingest_rows=500,
        postgres="",
        workdir=tmp_path,
        end=date(2026, 11, 29),
    )

    report: Report = await run(plan)

    figures = [row.figure for row in report.rows]
    for name in ("me", "team", "org", "budget"):
        assert any(f.startswith(f"`{name}` answer") for f in figures)
        assert any(
            f.startswith(f"`{name}` p95 at 40 days over 30 days") for f in figures
        )
    assert any(f.startswith("team answer vs GROUP BY over") for f in figures)
    assert any(f.startswith("ingest of a 500-row LiteLLM export") for f in figures)
    assert all(row.measured for row in report.rows)
    assert "| figure | target | measured |" in report.markdown()
