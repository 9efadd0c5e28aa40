"""The output project, built in a hidden sibling folder and renamed into place only when complete.

The unfinished folder holds a marker naming the run that started it (config, model, project, flags) and a
ledger with one line per finished image, so `--resume` continues that run, and only that run, after its last
finished image. Every file is written atomically and an image's ledger line comes after its files, so an
interrupted image is redone in full and a finished one is never written again. A failed write (a full disk) is a
WriteError naming the file; the unfinished folder stays as it was, and --resume continues it.
"""
import json
import os
import shutil
import tempfile
from pathlib import Path

from trainer.data.types import Sample
from trainer.errors import UserError
from trainer.io import append_json_line, atomic_path, read_json, read_json_lines, write_json, write_json_lines, writing

MARKER = ".unfinished-run.json"
LEDGER = ".finished-images.jsonl"


def unfinished_dir(output: Path) -> Path:
    return output.parent / f".{output.name}.partial"


class ProjectWriter:
    def __init__(self, output: Path, run: dict, meta: dict, resume: bool):
        self.output, self.partial = output, unfinished_dir(output)
        if resume:
            self._check_resumable(run, meta)
        else:
            self._start(run, meta)
        self.ledger = self.partial / LEDGER
        self.finished = self._read_ledger()

    def _start(self, run: dict, meta: dict) -> None:
        if self.partial.exists():
            raise UserError(f"output folder {self.output}: an unfinished run of it is in {self.partial}: add "
                            "--resume to continue it, or delete that folder to start again")
        with writing(self.partial):
            self.output.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=self.output.parent, prefix=f".{self.output.name}.new-"))
            try:
                write_json(staging / "meta.json", meta)
                write_json(staging / MARKER, run)
                os.replace(staging, self.partial)  # the folder appears with its marker, or not at all
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    def _check_resumable(self, run: dict, meta: dict) -> None:
        marker = self.partial / MARKER
        if not marker.is_file():
            raise UserError(f"--resume: there is no unfinished run of {self.output} to continue "
                            f"(looked for {self.partial})")
        started = read_json(marker, "--resume: the unfinished run's marker")
        changes = [f"--resume: the unfinished run in {self.partial} was started with {key} {json.dumps(then)}, "
                   f"now {json.dumps(now)}" for key, then, now in _differences(started, run)]
        if read_json(self.partial / "meta.json", "--resume: the unfinished run's") != meta:
            changes.append(f"--resume: the project's meta.json changed since the run in {self.partial} started")
        if changes:
            raise UserError(*changes, "rerun exactly the command that started it, or delete that folder to start again")

    def _read_ledger(self) -> dict[tuple[str, str], dict]:
        """Finished images by (dataset, name). A line cut short by a hard kill is dropped (its image is redone)."""
        if not self.ledger.is_file():
            return {}
        records = read_json_lines(self.ledger)
        with writing(self.ledger):
            write_json_lines(self.ledger, records)
        return {(r["dataset"], r["name"]): r for r in records}

    def add(self, sample: Sample, ann: dict, files: dict[str, bytes], record: dict) -> None:
        """The image (copied byte for byte), its extra files, its annotation, then its ledger line."""
        dataset = self.partial / sample.dataset
        with writing(dataset / "img" / sample.name):
            (dataset / "img").mkdir(parents=True, exist_ok=True)
            (dataset / "ann").mkdir(exist_ok=True)
            with atomic_path(dataset / "img" / sample.name) as tmp:
                shutil.copyfile(sample.image_path, tmp)
        self._write_files(files)
        with writing(dataset / "ann" / f"{sample.name}.json"):
            write_json(dataset / "ann" / f"{sample.name}.json", ann)
        self._log(sample, record)

    def fail(self, sample: Sample, reason: str) -> None:
        self._log(sample, {"failed": reason})

    def _log(self, sample: Sample, record: dict) -> None:
        record = {"dataset": sample.dataset, "name": sample.name, **record}
        with writing(self.ledger):
            append_json_line(self.ledger, record)
        self.finished[(sample.dataset, sample.name)] = record

    def _write_files(self, files: dict[str, bytes]) -> None:
        for relative, data in files.items():
            path = self.partial / relative
            with writing(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(path) as tmp:
                    tmp.write_bytes(data)

    def finish(self, files: dict[str, bytes]) -> None:
        """Add the run-level files, drop the resume bookkeeping, and rename the project into place."""
        self._write_files(files)
        with writing(self.output):
            (self.partial / MARKER).unlink()
            self.ledger.unlink(missing_ok=True)
            if self.output.is_dir():
                self.output.rmdir()  # only an empty folder gets here (checked before the run)
            os.replace(self.partial, self.output)


def _differences(then: dict, now: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """(key path, old, new) for every leaf that differs between two nested dicts."""
    out = []
    for key in list(then) + [k for k in now if k not in then]:
        a, b = then.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append((f"{prefix}{key}", a, b))
    return out
