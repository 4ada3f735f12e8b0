"""The Slack app manifests: Slack's documented limits, Slack's own JSON schema
(when ``SLACK_MANIFEST_SCHEMA`` names it), and every ``/aispend`` subcommand
documented in the usage hint, the help and the README alike."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

import commands  # noqa: F401  (registers every subcommand)
from bot.slash import COMMAND
from commands.grammar import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ("manifest.yml", "manifest.socket.yml")
# Read at import: the autouse fixture clears SLACK_* variables before each test.
SCHEMA = os.environ.get("SLACK_MANIFEST_SCHEMA")
BOT_SCOPES = {
    "commands",
    "chat:write",
    "users:read",
    "users:read.email",
    "usergroups:read",
    # conversations.open and conversations.history, to confirm an interrupted send
    "im:write",
    "im:history",
    "channels:history",
}


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def slash_command(manifest: dict) -> dict:
    [command] = manifest["features"]["slash_commands"]
    return command


def hint_names(hint: str) -> set[str]:
    return {part.split()[0] for part in hint.split(" | ") if not part.startswith("[")}


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_keeps_slacks_documented_limits(name):
    manifest = load(name)

    info = manifest["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert len(info.get("description", "")) <= 140
    assert manifest["features"]["bot_user"]["display_name"]
    command = slash_command(manifest)
    assert command["command"] == COMMAND
    assert 2 <= len(command["command"]) <= 32
    assert command["description"]
    assert len(command["usage_hint"]) <= 1000
    assert command["should_escape"] is True
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] and home["messages_tab_enabled"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened"
    ]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == BOT_SCOPES
    assert "users:read" in scopes  # users:read.email needs it


def test_http_manifest_points_everything_at_slack_events():
    manifest = load("manifest.yml")

    urls = [
        slash_command(manifest)["url"],
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
    ]
    assert all(
        url.startswith("https://") and url.endswith("/slack/events") for url in urls
    )
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_socket_manifest_is_the_http_one_without_urls():
    http, socket = load("manifest.yml"), load("manifest.socket.yml")

    del slash_command(http)["url"]
    del http["settings"]["event_subscriptions"]["request_url"]
    del http["settings"]["interactivity"]["request_url"]
    http["settings"]["socket_mode_enabled"] = True
    assert socket == http


@pytest.mark.skipif(
    not SCHEMA,
    reason="SLACK_MANIFEST_SCHEMA names no schema file (CI sets it)",
)
@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_validates_against_slacks_schema(name):
    schema = json.loads(Path(SCHEMA).read_text())

    jsonschema.validate(load(name), schema)


def readme_names() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## /aispend subcommands", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^- `/aispend ([^\s`]+)", section, flags=re.MULTILINE))


async def test_every_subcommand_is_in_the_usage_hint_the_help_and_the_readme(db):
    from commands import answer, to_plain_text
    from tests.northwind import TODAY, load_directory, person

    await load_directory(db)
    admin = await person(db.sessions, "hana.sato@northwind.test")
    async with db.sessions() as session:
        help_text = to_plain_text(
            await answer(session, asker=admin, text="help", today=TODAY)
        )
    registered = set(REGISTRY)

    in_help = set(re.findall(r"/aispend ([^\s`]+)", help_text))
    for name in MANIFESTS:
        assert hint_names(slash_command(load(name))["usage_hint"]) == registered
    assert in_help == registered
    assert readme_names() == registered
