"""Errors a user can fix. The CLI prints them as one line and exits with status 2."""

# How long a 503 for a passing condition (the model still loading, no parser worker could start) asks clients to
# wait before trying again: its Retry-After header. A 503 that lasts (a model that failed to load) sends none.
RETRY_SOON_S = 5


class ClausemapError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code = 2
    http_status = 422  # the service's answer when a request causes it
    retry_after_s: int | None = None  # set where that answer is a 503 that passes (sent as Retry-After)


class InputFileError(ClausemapError):
    """A file that cannot be read or used; the message names the file."""

    def __init__(self, path, reason: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {reason}")
        self.path = str(path)
        self.reason = reason
        self.line = line

    def __reduce__(self):  # rebuilt from its parts when it comes back from a parser worker process
        return type(self), (self.path, self.reason, self.line)


class OverBudgetError(InputFileError):
    """A document over one of the parsing budgets (size, pages, cells, time, memory); the reason names the
    setting that raises it."""

    http_status = 413
