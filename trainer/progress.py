"""Console output for long work: plain lines (log-file friendly) with throughput and ETA."""
import time


def say(message: str) -> None:
    print(message, flush=True)


def fmt_metric(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """One line at most every `interval` seconds (and at the end) with items/s and ETA."""

    def __init__(self, label: str, total: int, unit: str, interval: float = 5.0):
        self.label, self.total, self.unit, self.interval = label, total, unit, interval
        self.start = time.monotonic()
        self.last = -interval

    def update(self, done: int, items: int, detail: str = "") -> None:
        now = time.monotonic()
        if now - self.last < self.interval and done != self.total:
            return
        self.last = now
        elapsed = now - self.start
        eta = elapsed / done * (self.total - done) if done else 0.0
        say(f"{self.label} {done}/{self.total}  {detail}{'  ' if detail else ''}"
            f"{items / max(elapsed, 1e-9):.1f} {self.unit}/s  elapsed {format_duration(elapsed)}  ETA {format_duration(eta)}")
