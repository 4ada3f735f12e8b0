"""Benchmarks: ``python -m bench --people 10000 --days 365`` writes BENCHMARKS.md."""
