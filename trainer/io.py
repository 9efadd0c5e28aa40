"""Atomic file-system writes: a reader never sees a half-written file, folder or link."""
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from trainer.errors import UserError


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


def write_json(path: Path, data) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


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
