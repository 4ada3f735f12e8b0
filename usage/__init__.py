"""The usage database: people, pricing, ingestion and spend answers (no Slack)."""
