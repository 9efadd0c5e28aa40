"""The one place that decides what a user error is: exit 2, one line per problem, no traceback."""

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


def and_list(names: list[str]) -> str:
    """"a, b and c", for messages naming several files."""
    return f"{', '.join(names[:-1])} and {names[-1]}"
