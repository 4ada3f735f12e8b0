"""Typed errors that the CLI and the bot turn into one friendly line."""


class UserError(Exception):
    """Something the person asked for cannot be done; the message says why and what next."""


class ConfigError(UserError):
    """The settings file or an environment variable is wrong."""


class ImportFileError(UserError):
    """An import file cannot be read as a whole (missing, unknown column, no dates)."""


class PagingError(Exception):
    """A vendor API broke its own paging contract; no partial total is kept."""
