"""The one exception type the CLI turns into a single line on stderr instead of a traceback."""


class DQNRefError(Exception):
    """A problem with the user's input or files, whose message names the problem and the fix."""
