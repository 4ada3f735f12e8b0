"""The ``aispend`` command line: one entry point, one subcommand module per area.

Each area module has ``register(subparsers)`` that adds its commands; every
command is an async function ``run(args) -> int``. Known errors print one line
on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot import cli_ask, cli_core, cli_digests, cli_ingest, cli_run, cli_sources
from usage.errors import UserError

logger = logging.getLogger(__name__)

AREAS = (cli_core, cli_ingest, cli_ask, cli_sources, cli_digests, cli_run)
QUIET_LOGGERS = (
    "sqlalchemy",
    "aiosqlite",
    "alembic",
    "httpx",
    "httpcore",
    "slack_bolt",
    "slack_sdk",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"aispend: {message} (see aispend --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aispend",
        description="AI spend, visible without a contest: import usage, ask, run the bot.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    subparsers.required = True
    for area in AREAS:
        area.register(subparsers)
    return parser


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        # Without -v the terminal gets one line per problem, from the command itself.
        level=logging.INFO if verbose else logging.ERROR,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return int(exc.code or 0)
    _configure_logging(args.verbose)
    try:
        return asyncio.run(args.run(args)) or 0
    except UserError as exc:
        print(f"aispend: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
