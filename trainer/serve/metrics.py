"""The server's counters in Prometheus' text format (no client library: five series do not need one)."""
from __future__ import annotations

import threading
from collections import Counter

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Histogram:
    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total, self.count = 0.0, 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str, labels: str = "") -> list[str]:
        sep = "," if labels else ""
        out = [f'{name}_bucket{{{labels}{sep}le="{bound:g}"}} {n}' for bound, n in zip(self.buckets, self.counts)]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        braces = f"{{{labels}}}" if labels else ""
        return out + [f"{name}_sum{braces} {self.total:.6f}", f"{name}_count{braces} {self.count}"]


class Metrics:
    def __init__(self, max_batch: int, queue_depth):
        """`queue_depth()`: the requests admitted and not yet answered."""
        self._lock = threading.Lock()
        self.queue_depth = queue_depth
        self.requests: Counter[tuple[str, int]] = Counter()
        self.latency: dict[str, _Histogram] = {}
        self.batches = _Histogram(tuple(float(2 ** i) for i in range(max_batch.bit_length() + 1)))
        self.images = 0

    def request(self, route: str, status: int, seconds: float, images: int) -> None:
        with self._lock:
            self.requests[route, status] += 1
            self.latency.setdefault(route, _Histogram(LATENCY_BUCKETS)).observe(seconds)
            if status < 400:
                self.images += images

    def batch(self, size: int) -> None:
        with self._lock:
            self.batches.observe(size)

    def text(self) -> str:
        with self._lock:
            lines = ["# HELP deeplab_requests_total Requests answered, by route and HTTP status.",
                     "# TYPE deeplab_requests_total counter"]
            lines += [f'deeplab_requests_total{{route="{route}",status="{status}"}} {n}'
                      for (route, status), n in sorted(self.requests.items())]
            lines += ["# HELP deeplab_request_duration_seconds Time from request to response, by route.",
                      "# TYPE deeplab_request_duration_seconds histogram"]
            for route, histogram in sorted(self.latency.items()):
                lines += histogram.lines("deeplab_request_duration_seconds", f'route="{route}"')
            lines += ["# HELP deeplab_batch_size Crops per model call.", "# TYPE deeplab_batch_size histogram"]
            lines += self.batches.lines("deeplab_batch_size")
            lines += ["# HELP deeplab_queue_depth Requests admitted and not yet answered.",
                      "# TYPE deeplab_queue_depth gauge", f"deeplab_queue_depth {self.queue_depth()}",
                      "# HELP deeplab_images_served_total Images annotated in successful requests.",
                      "# TYPE deeplab_images_served_total counter", f"deeplab_images_served_total {self.images}"]
        return "\n".join(lines) + "\n"
