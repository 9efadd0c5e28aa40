"""A command run as a user runs it, with one of its writes failing as on a full disk (ENOSPC), for the disk-full tests:

    python -m tests.e2e.enospc TARGET N train|infer ARGS...

runs `trainer.cli.<command>.main(ARGS)` in this fresh interpreter with the Nth write of TARGET failing. Each failure
is the one the real call makes when space runs out mid-write: part of the data lands, then the error (for
TensorFlow's writers, the OpError its file system raises, seen on a full tmpfs). What TARGET patches is the lowest
call this project's code reaches for it, so the project's own handling runs unchanged.
"""
import errno
import os
import sys

import trainer  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

NO_SPACE = os.strerror(errno.ENOSPC)


def _no_space(path) -> OSError:
    return OSError(errno.ENOSPC, NO_SPACE, str(path))


def _tf_no_space(path):
    import tensorflow as tf

    return tf.errors.ResourceExhaustedError(None, None, f"{path}.tempstate1; {NO_SPACE} [Op:SaveV2]")


class _Nth:
    """True on the Nth call, and on every later one: a disk stays full."""

    def __init__(self, n: int):
        self.left = n

    def __call__(self) -> bool:
        self.left -= 1
        return self.left <= 0


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def metrics(due: _Nth) -> None:
    """The Nth line appended to metrics.jsonl: half of it is written, then the disk is full."""
    real_write, full = os.write, set()

    def write(fd, data):
        if _fd_path(fd).endswith("metrics.jsonl"):
            if fd in full:
                raise _no_space(_fd_path(fd))
            if due():
                full.add(fd)
                return real_write(fd, data[:len(data) // 2])
        return real_write(fd, data)

    os.write = write


def checkpoint(due: _Nth) -> None:
    """The Nth checkpoint: its files are written, then the error TensorFlow raises when a save runs out of space."""
    import tensorflow as tf

    real = tf.train.Checkpoint.write

    def write(self, file_prefix, options=None):
        result = real(self, file_prefix, options)
        if due():
            raise _tf_no_space(file_prefix)
        return result

    tf.train.Checkpoint.write = write


def tensorboard(due: _Nth) -> None:
    """The Nth validation preview image written to TensorBoard (one per validation): the error its writer raises
    when the events it flushes do not fit."""
    import tensorflow as tf

    real = tf.summary.image

    def image(*args, **kwargs):
        if due():
            raise _tf_no_space("tensorboard/events.out.tfevents")
        return real(*args, **kwargs)

    tf.summary.image = image


def curves(due: _Nth) -> None:
    """The Nth curves.png: part of the PNG is written into the temporary file, then the disk is full."""
    from matplotlib.figure import Figure

    real = Figure.savefig

    def savefig(self, fname, **kwargs):
        if due():
            with open(fname, "wb") as f:
                f.write(b"\x89PNG\r\n")
            raise _no_space(fname)
        return real(self, fname, **kwargs)

    Figure.savefig = savefig


def image(due: _Nth) -> None:
    """The Nth image copied into the inference output: half of it, then the disk is full."""
    import shutil

    real = shutil.copyfile

    def copyfile(src, dst, **kwargs):
        if due():
            with open(src, "rb") as source, open(dst, "wb") as target:
                data = source.read()
                target.write(data[:len(data) // 2])
            raise _no_space(dst)
        return real(src, dst, **kwargs)

    shutil.copyfile = copyfile


TARGETS = {f.__name__: f for f in (metrics, checkpoint, tensorboard, curves, image)}

if __name__ == "__main__":
    target, n, command, *args = sys.argv[1:]
    TARGETS[target](_Nth(int(n)))
    if command == "train":
        from trainer.cli.train import main
    else:
        from trainer.cli.infer import main
    sys.exit(main(args))
