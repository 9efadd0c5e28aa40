"""Atomic file-system writes: a reader never sees a half-written file, folder or link; a write that fails (a full
disk) leaves what was there before and is reported as one line naming what was being written."""
import errno
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from trainer.errors import UserError, WriteError


def read_json(path: Path, what: str):
    """A JSON file this tool wrote: a missing or damaged one is a user error naming it, not a traceback."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"{what} {path} cannot be read: {e}") from None


def read_json_lines(path: Path) -> list:
    """The complete records of a JSON-lines file. A kill mid-append leaves a partial last line: it and
    anything after it are dropped."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            records.append(json.loads(line))
        except ValueError:
            break
    return records


def write_json_lines(path: Path, records: list) -> None:
    """Replace a JSON-lines file as a whole (e.g. cut back to its complete records before appending again)."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def append_json_line(path: Path, record) -> None:
    """Append one record as a complete line or not at all: the line is built first and written in one call, and a
    write that fails part-way (a full disk) is cut back, so the file keeps only complete records."""
    data = (json.dumps(record) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            written = 0
            while written < len(data):   # a short write is followed by the error that stopped it
                written += os.write(fd, data[written:])
        except OSError:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def write_json(path: Path, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@contextmanager
def writing(path: Path, native: tuple[type[Exception], ...] = ()):
    """The block writes `path`: an OSError in it, or an exception of a `native` type (TensorFlow's OpError) reporting
    an errno, becomes a WriteError naming `path` and the cause. Other `native` errors are not writes: re-raised."""
    try:
        yield
    except WriteError:
        raise
    except OSError as error:
        raise WriteError(path, _lower(error.strerror or str(error))) from None
    except native as error:
        cause = _errno_text(str(error))
        if cause is None:
            raise
        raise WriteError(path, _lower(cause)) from None


def _errno_text(message: str) -> str | None:
    """TensorFlow's file system reports a failed call as "<file>; <strerror>" (ENOSPC as ResourceExhaustedError)."""
    return next((os.strerror(code) for code in errno.errorcode if f"; {os.strerror(code)}" in message), None)


def _lower(cause: str) -> str:
    return cause[:1].lower() + cause[1:]


@contextmanager
def atomic_path(path: Path):
    """A temporary sibling of `path` to write; it becomes `path` only if the block completes."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def point_link(link: Path, target: Path) -> None:
    """Make `link` a relative symlink to `target`, replacing any previous link in one step."""
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(target, link.parent))
    os.replace(tmp, link)


def require_empty_output(path: Path, what: str) -> None:
    """Refuse to write into a folder that already holds something: nothing a user has is overwritten."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"{what} {path} already exists and is not empty: choose another --output")
