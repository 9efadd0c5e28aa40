"""Crops of concurrent requests scored in one model call.

Requests run in their own threads and hand the model stage's inputs (trainer.infer.predictor's `views`, tensors or
arrays) to one batching thread, which runs the model on the oldest waiting crops together with every waiting crop of
the same size, up to `max_batch`, after waiting at most `wait` for company. It does not wait when every request being
served already has its crops in the batch. A request that finds nobody else being served and no batch waiting or
running claims the model for a call of its own instead (`solo`); the model still runs one call at a time.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import tensorflow as tf


Array = tf.Tensor | np.ndarray


@dataclass(eq=False)
class _Piece:
    images: Array
    owner: int                          # the requesting thread
    future: Future = field(default_factory=Future)


class Batcher:
    """`stage` maps a batch of same-size inputs to their outputs; `working()` is how many requests are being served
    (so the batcher knows when nobody else can join); `on_batch(n)` hears each batch's size."""

    def __init__(self, stage: Callable[[Array], Array], max_batch: int, wait: float,
                 working: Callable[[], int], on_batch: Callable[[int], None] = lambda n: None):
        self.stage, self.max_batch, self.wait = stage, max_batch, wait
        self.working, self.on_batch = working, on_batch
        self._pending: list[_Piece] = []
        self._running = False
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="batcher", daemon=True)
        self._thread.start()

    def submit(self, images: Array) -> list[Future]:
        """Queue `images` (in pieces of at most max_batch); their outputs come back in the futures, in order."""
        owner = threading.get_ident()
        pieces = [_Piece(images[start:start + self.max_batch], owner)
                  for start in range(0, len(images), self.max_batch)]
        with self._changed:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self._pending.extend(pieces)
            self._changed.notify_all()
        return [piece.future for piece in pieces]

    @contextmanager
    def solo(self):
        """True, with the model held for the calling request, if it is the only one being served and no batch is
        waiting or running (batches wait until it is done); else False."""
        with self._changed:
            claimed = not self._pending and not self._running and self.working() <= 1
            self._running = self._running or claimed
        try:
            yield claimed
        finally:
            if claimed:
                with self._changed:
                    self._running = False
                    self._changed.notify_all()

    @staticmethod
    def gather(futures: list[Future]) -> tf.Tensor:
        outputs = [future.result() for future in futures]
        return outputs[0] if len(outputs) == 1 else tf.concat(outputs, 0)

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join()

    def _serve(self) -> None:
        while batch := self._take():
            self._run(batch)
            with self._changed:
                self._running = False
            # nothing of it stays bound while waiting for the next: its outputs (up to max_batch × 22 MB of scores
            # at the model's input size) would be held through idle time, and resting memory would depend on them
            del batch

    def _run(self, batch: list[_Piece]) -> None:
        try:
            # tf.concat keeps tensors tensors: the model's outputs go to the labels without a copy through NumPy
            outputs = self.stage(batch[0].images if len(batch) == 1 else tf.concat([p.images for p in batch], 0))
        except BaseException as error:   # noqa: BLE001 — the requests waiting on it report it
            for piece in batch:
                piece.future.set_exception(error)
            return
        self.on_batch(len(outputs))
        start = 0
        for piece in batch:
            piece.future.set_result(outputs[start:start + len(piece.images)])
            start += len(piece.images)

    def _take(self) -> list[_Piece]:
        """The oldest waiting piece and the waiting pieces of its size, once the batch is full, nobody else can
        join, or `wait` has passed; [] once closed and drained."""
        with self._changed:
            while not self._pending or self._running:   # running: a solo call holds the model
                if self._closed and not self._pending:
                    return []
                self._changed.wait()
            deadline = time.monotonic() + self.wait
            while True:
                batch = self._company(self._pending[0])
                left = deadline - time.monotonic()
                if (sum(len(p.images) for p in batch) >= self.max_batch or left <= 0 or self._closed
                        or len({p.owner for p in self._pending}) >= self.working()):
                    break
                self._changed.wait(left)
            for piece in batch:
                self._pending.remove(piece)
            self._running = True
            return batch

    def _company(self, first: _Piece) -> list[_Piece]:
        batch, size = [], 0
        for piece in self._pending:
            if piece.images.shape[1:] == first.images.shape[1:] and size + len(piece.images) <= self.max_batch:
                batch.append(piece)
                size += len(piece.images)
        return batch


class BatchedScorer:
    """A scorer (trainer.infer.predictor.Predictor, or an exported model's) whose model stage runs in the batcher:
    what an inference session scores with in the server."""

    def __init__(self, scorer, batcher: Batcher):
        self.scorer, self.batcher = scorer, batcher
        self.classes, self.source = scorer.classes, scorer.source

    def scores(self, crops: np.ndarray) -> np.ndarray:
        return self.scorer.combine(self._per_view(crops), crops.shape[1:3])

    def labels(self, crops: np.ndarray) -> np.ndarray:
        with self.batcher.solo() as alone:
            if alone:
                # Nobody to share a model call with: the scorer's own call, its stages in one graph, answered a
                # lone 600×800 image 2–5 ms sooner than the stages one by one (paired, in-process), the same labels.
                self.batcher.on_batch(len(crops))
                return self.scorer.labels(crops)
        return self.shared_labels(crops)

    def shared_labels(self, crops: np.ndarray) -> np.ndarray:
        """The labels as requests that share model calls get them: in stages, the model's in the batcher."""
        return self.scorer.combined_labels(self._per_view(crops), crops.shape[1:3])

    def _per_view(self, crops: np.ndarray) -> list[Array]:
        futures = [self.batcher.submit(images) for images in self.scorer.views(crops)]
        return [Batcher.gather(f) for f in futures]
