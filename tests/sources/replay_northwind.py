"""Pull the Northwind month through every vendor connector, from loopback fakes.

``python -m tests.sources.replay_northwind`` serves the fixture pages of each
vendor API on 127.0.0.1 and runs ``aispend ingest <vendor> --base-url …``
against them, so the sample database holds the whole month as a real pull
would leave it. Nothing leaves the machine: every URL is loopback.
"""

from __future__ import annotations

import os
import sys

from bot.cli import main as aispend
from tests.sources.fakes import (
    KEY,
    FakeAnthropic,
    FakeCursor,
    FakeGitHub,
    FakeOpenAI,
    LoopbackServer,
)

MONTH = ["--since", "2026-11-02", "--until", "2026-11-29"]
KEYS = ("ANTHROPIC_ADMIN_KEY", "OPENAI_ADMIN_KEY", "CURSOR_API_KEY", "GITHUB_TOKEN")
PULLS = (
    (FakeAnthropic, [["anthropic"], ["anthropic", "--costs"], ["claude-code"]]),
    (FakeOpenAI, [["openai"]]),
    (FakeCursor, [["cursor"]]),
    (FakeGitHub, [["github", "--org", "northwind"]]),
)


def main() -> int:
    for name in KEYS:
        os.environ[name] = KEY
    for fake, pulls in PULLS:
        api = fake()
        with LoopbackServer(api) as server:
            if hasattr(api, "base"):  # links in answers point back at this server
                api.base = server.url
            for pull in pulls:
                print(
                    f"$ aispend ingest {' '.join(pull)} {' '.join(MONTH)} --base-url {server.url}"
                )
                code = aispend(["ingest", *pull, *MONTH, "--base-url", server.url])
                print()
                if code:
                    return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
