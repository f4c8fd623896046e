"""The one exception type users see as a one-line message instead of a traceback."""


class UserError(Exception):
    """Bad input or a broken environment: the message says what was wrong and what to do."""

    exit_code = 2
