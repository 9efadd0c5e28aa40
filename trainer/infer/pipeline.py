"""Work overlapped with the model: images decoded ahead of it in threads, results written behind it in order."""
from collections import deque
from concurrent.futures import Executor, Future
from typing import Callable, Iterable, Iterator


_END = object()


def ahead(pool: Executor, fn: Callable, items: Iterable, depth: int) -> Iterator[tuple[object, object]]:
    """(item, fn(item)) in the items' order, with up to `depth` items being computed ahead in `pool`."""
    items = iter(items)
    pending: deque[tuple[object, Future]] = deque()

    def submit_next() -> None:
        item = next(items, _END)
        if item is not _END:
            pending.append((item, pool.submit(fn, item)))

    for _ in range(depth):
        submit_next()
    while pending:
        item, future = pending.popleft()
        submit_next()
        yield item, future.result()


class Behind:
    """Jobs run in submission order on a one-thread pool; the caller waits once `depth` are queued, so memory
    stays bounded, and a job's exception surfaces in the caller at the next submit or at drain."""

    def __init__(self, pool: Executor, depth: int):
        self.pool, self.depth = pool, depth
        self.pending: deque[Future] = deque()

    def submit(self, fn: Callable, *args) -> None:
        self.pending.append(self.pool.submit(fn, *args))
        while len(self.pending) > self.depth:
            self.pending.popleft().result()

    def drain(self) -> None:
        while self.pending:
            self.pending.popleft().result()
