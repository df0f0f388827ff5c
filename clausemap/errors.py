"""Errors a user can fix. The CLI prints them as one line and exits with status 2."""


class ClausemapError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code = 2


class InputFileError(ClausemapError):
    """A file that cannot be read or used; the message names the file."""

    def __init__(self, path, reason: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {reason}")
        self.path = str(path)
        self.reason = reason
        self.line = line
