"""Importers: each reads one source and hands rows to ``usage.store.UsageWriter``."""
