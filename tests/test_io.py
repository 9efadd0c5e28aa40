"""Writes that fail part-way (a full disk): lines appended whole or not at all, and one error naming the path."""
import errno
import json
import os

import pytest

from trainer.errors import WriteError
from trainer.io import append_json_line, writing


def _disk_full_after(monkeypatch, room: int) -> None:
    """os.write as on a disk with `room` bytes left: a short write, then ENOSPC."""
    real_write = os.write

    def write(fd, data):
        nonlocal room
        if room == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = real_write(fd, data[:room])
        room -= written
        return written

    monkeypatch.setattr(os, "write", write)


def test_a_line_is_appended_whole(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_json_line(path, {"step": 1})
    append_json_line(path, {"step": 2, "per_class_iou": {f"class {i}": 0.5 for i in range(2000)}})  # > one buffer
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2]


def test_a_line_that_does_not_fit_is_cut_back(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    append_json_line(path, {"step": 1})
    before = path.read_bytes()
    _disk_full_after(monkeypatch, room=5)
    with pytest.raises(OSError) as error:
        append_json_line(path, {"step": 2, "mean_iou": 0.5})
    assert error.value.errno == errno.ENOSPC
    assert path.read_bytes() == before


def test_a_failed_write_is_one_line_naming_the_path_and_the_cause(tmp_path):
    target = tmp_path / "checkpoints" / "00000004"
    with pytest.raises(WriteError) as error, writing(target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target / "weights"))
    assert error.value.lines == [f"no space left on device writing {target}"]
    assert error.value.advising("run `train.py --resume R`").lines == [
        f"no space left on device writing {target}: free space and run `train.py --resume R`"]
    with pytest.raises(WriteError) as error, writing(target):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    assert error.value.advising("rerun").lines == [f"permission denied writing {target}: fix that and rerun"]


class NativeError(Exception):
    """Stands for TensorFlow's OpError: a library error whose message may carry an errno's text."""


def test_native_errors_are_write_errors_only_when_they_report_an_errno(tmp_path):
    message = f"{{{{function_node SaveV2}}}} {tmp_path}/part-0.tempstate1; No space left on device [Op:SaveV2]"
    with pytest.raises(WriteError) as error, writing(tmp_path, NativeError):
        raise NativeError(message)
    assert error.value.lines == [f"no space left on device writing {tmp_path}"]
    with pytest.raises(NativeError), writing(tmp_path, NativeError):
        raise NativeError("Incompatible shapes: [2] vs. [3]")   # not a write: a bug, with its traceback
    with pytest.raises(ValueError), writing(tmp_path):
        raise ValueError("not an OSError")
