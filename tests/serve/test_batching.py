"""The batcher on its own: crops of concurrent callers share model calls, by size, up to max_batch, in order."""
import gc
import threading
import time
import weakref

import numpy as np

from trainer.serve.batching import BatchedScorer, Batcher


class Stage:
    """A model stage that remembers its batches and maps each input to its mean (so outputs identify inputs)."""

    def __init__(self, gate: threading.Event | None = None):
        self.batches, self.gate = [], gate

    def __call__(self, images) -> np.ndarray:
        if self.gate:
            self.gate.wait(10)
        self.batches.append(images.shape)
        return np.mean(images, axis=(1, 2, 3))   # a batch of several inputs is a tensor


def _inputs(count: int, size: int, first: int) -> np.ndarray:
    return np.stack([np.full((size, size, 3), first + i, np.float32) for i in range(count)])


def test_a_lone_caller_is_not_kept_waiting_for_company():
    stage = Stage()
    batcher = Batcher(stage, max_batch=8, wait=60.0, working=lambda: 1)
    try:
        futures = batcher.submit(_inputs(3, 4, 0))
        np.testing.assert_array_equal([f.result(timeout=10) for f in futures][0], [0, 1, 2])   # not after 60 s
    finally:
        batcher.close()
    assert stage.batches == [(3, 4, 4, 3)]


def test_a_solo_call_is_granted_only_to_a_lone_request_and_holds_batches_back_until_done():
    gate, working = threading.Event(), [2]
    stage = Stage(gate)
    batcher = Batcher(stage, max_batch=8, wait=0.0, working=lambda: working[0])
    try:
        with batcher.solo() as alone:
            assert not alone   # another request is being served
        working[0] = 1
        with batcher.solo() as alone:
            assert alone
            futures = batcher.submit(_inputs(1, 4, 0))   # the model is held: this batch waits
            time.sleep(0.2)
            assert stage.batches == []
            gate.set()
        np.testing.assert_array_equal(Batcher.gather(futures), [0])
        gate.clear()
        futures = batcher.submit(_inputs(1, 4, 1))   # held in the stage until the gate opens
        with batcher.solo() as alone:
            assert not alone   # a batch is running
        gate.set()
        Batcher.gather(futures)
    finally:
        batcher.close()


class Scorer:
    """The stages of a scorer, each answer naming the path that made it."""
    classes, source = ["bg"], "test"

    def views(self, crops):
        return [crops.astype(np.float32)]

    def labels(self, crops):
        return "one call"

    def combined_labels(self, per_view, size):
        return f"stages, {len(per_view[0])} crops"


def test_a_lone_request_is_scored_in_the_scorers_own_call_and_others_through_the_batcher():
    working, sizes = [1], []
    batcher = Batcher(Stage(), max_batch=8, wait=0.0, working=lambda: working[0], on_batch=sizes.append)
    scorer = BatchedScorer(Scorer(), batcher)
    crops = np.zeros((2, 4, 4, 3), np.uint8)
    try:
        assert scorer.labels(crops) == "one call"
        working[0] = 2
        assert scorer.labels(crops) == "stages, 2 crops"
    finally:
        batcher.close()
    assert sizes == [2, 2]   # the lone call counts as a batch too


def test_waiting_inputs_are_batched_by_size_up_to_max_batch_in_order():
    gate = threading.Event()
    stage = Stage(gate)
    batcher = Batcher(stage, max_batch=4, wait=0.0, working=lambda: 4)
    try:
        first = batcher.submit(_inputs(1, 4, 100))   # the stage holds every batch until the gate opens
        later = [batcher.submit(_inputs(3, 4, 0)), batcher.submit(_inputs(2, 6, 10)), batcher.submit(_inputs(6, 4, 20))]
        gate.set()
        results = [Batcher.gather(f) for f in [first] + later]
    finally:
        batcher.close()
    np.testing.assert_array_equal(results[1], [0, 1, 2])
    np.testing.assert_array_equal(results[2], [10, 11])
    np.testing.assert_array_equal(results[3], [20, 21, 22, 23, 24, 25])
    # 6 inputs of size 4 go in pieces of at most 4; inputs of different sizes never share a call
    assert all(shape[0] <= 4 for shape in stage.batches)
    assert sorted(s for s in stage.batches if s[1] == 6) == [(2, 6, 6, 3)]
    assert sum(s[0] for s in stage.batches) == 12


def test_concurrent_callers_share_model_calls_and_get_their_own_outputs():
    stage = Stage()
    callers = 12
    batcher = Batcher(stage, max_batch=8, wait=0.5, working=lambda: callers)
    results, start = {}, threading.Barrier(callers)

    def call(i):
        start.wait()
        results[i] = Batcher.gather(batcher.submit(_inputs(1, 4, i)))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(callers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        batcher.close()
    assert {i: float(r[0]) for i, r in results.items()} == {i: float(i) for i in range(callers)}
    assert len(stage.batches) < callers and max(s[0] for s in stage.batches) > 1


def test_a_failing_model_call_fails_its_callers_and_the_batcher_goes_on():
    calls = []

    def stage(images):
        calls.append(len(images))
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return np.mean(images, axis=(1, 2, 3))   # a batch of several inputs is a tensor

    batcher = Batcher(stage, max_batch=8, wait=0.0, working=lambda: 1)
    try:
        failed = batcher.submit(_inputs(1, 4, 0))
        try:
            Batcher.gather(failed)
            raise AssertionError("the error was lost")
        except RuntimeError as error:
            assert "out of memory" in str(error)
        np.testing.assert_array_equal(Batcher.gather(batcher.submit(_inputs(1, 4, 7))), [7])
    finally:
        batcher.close()


class _Outputs(np.ndarray):
    """An ndarray that can be watched with a weak reference."""


def test_an_idle_batcher_holds_nothing_of_its_last_batch():
    # The server's memory at rest must not depend on the size of the last batch it scored.
    made = []

    def stage(images):
        outputs = images.mean(axis=(1, 2, 3)).view(_Outputs)
        made.append(weakref.ref(outputs))
        return outputs

    batcher = Batcher(stage, max_batch=8, wait=0.0, working=lambda: 1)
    try:
        np.testing.assert_array_equal(Batcher.gather(batcher.submit(_inputs(3, 4, 0))), [0, 1, 2])
        deadline = time.monotonic() + 10
        while made[0]() is not None and time.monotonic() < deadline:   # the batcher thread lets go, then waits
            gc.collect()
            time.sleep(0.01)
        assert made[0]() is None
    finally:
        batcher.close()
