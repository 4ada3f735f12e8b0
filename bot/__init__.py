"""Slack and process wiring: the CLI, the Bolt app, the scheduler and delivery."""
