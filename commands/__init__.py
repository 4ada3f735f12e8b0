"""``/aispend``: the grammar, permission checks and answers as Block Kit messages.

Nothing here imports Slack: an answer is a :class:`commands.message.Message`
that the bot posts and the CLI prints.
"""

from commands.answers import answer
from commands.context import AskContext, build_context
from commands.message import Message, to_plain_text

__all__ = ["AskContext", "Message", "answer", "build_context", "to_plain_text"]

# Registered after the spend answers, so that help lists them in this order,
# with help itself last.
from commands import prefs, admin  # noqa: F401, I001
from commands.grammar import REGISTRY

REGISTRY["help"] = REGISTRY.pop("help")
