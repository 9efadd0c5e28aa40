"""The one place that decides what a user error is: exit 2, one line per problem, no traceback."""
import errno
import os

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem the user can fix (config, data, paths)."""

    def __init__(self, *lines: str):
        super().__init__("\n".join(lines))
        self.lines = list(lines)


class ConfigError(UserError):
    """A config that does not validate; each line names the file and the key path."""


class DataError(UserError):
    """A project that cannot be used; each line names the dataset, the file and the object."""


class WriteError(UserError):
    """A write that failed (a full disk, a read-only folder): one line naming what was being written and the cause,
    and, once the command knows it, how to continue after the cause is fixed. What was written before is intact."""

    def __init__(self, path, cause: str, advice: str | None = None):
        super().__init__(f"{cause} writing {path}" + (f": {advice}" if advice else ""))
        self.path, self.cause = path, cause

    def advising(self, then: str) -> "WriteError":
        """The same error, saying what to do once its cause is fixed (`then`: "run …")."""
        return WriteError(self.path, self.cause, f"{self.remedy} and {then}")

    @property
    def remedy(self) -> str:
        full = {os.strerror(code).lower() for code in (errno.ENOSPC, errno.EDQUOT)}
        return "free space" if self.cause.lower() in full else "fix that"


def and_list(names: list[str]) -> str:
    """"a, b and c", for messages naming several files."""
    return f"{', '.join(names[:-1])} and {names[-1]}"
