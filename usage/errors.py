"""Typed errors that the CLI and the bot turn into one friendly line."""


class UserError(Exception):
    """Something the person asked for cannot be done; the message says why and what next."""


class ConfigError(UserError):
    """The settings file or an environment variable is wrong."""


class ImportFileError(UserError):
    """An import file cannot be read as a whole (missing, unknown column, no dates)."""


class PagingError(Exception):
    """A vendor API broke its own paging contract; no partial total is kept."""


def describe(exc: BaseException, *, limit: int = 300) -> str:
    """A short, single-line account of an error, fit for a log line or a status.

    Database errors are reduced to the driver's own message, so neither SQL nor
    its parameters (which hold people's data) end up in logs.
    """
    inner = getattr(exc, "orig", None)
    text = str(inner if inner is not None else exc) or type(exc).__name__
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return line[:limit]
