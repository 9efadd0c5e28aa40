"""Memory that requests freed goes back to the operating system once the server is idle.

glibc keeps freed blocks in its per-thread arenas: after a burst of concurrent requests (each holds an image's
class probabilities, tens of MB) the process keeps the burst's high-water mark as RSS, and which blocks happen to be
free decides how much. `malloc_trim` releases them; it runs after `delay` seconds without a request, so a steady
stream of requests never waits for it."""
import ctypes
import ctypes.util
import threading


def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


class IdleTrimmer:
    """`trim(pad)`: what releases the memory (default: glibc's malloc_trim; nothing runs without one)."""

    def __init__(self, delay: float, trim=None):
        self.delay = delay
        self._trim = trim or _malloc_trim()
        self._changed = threading.Condition()
        self._active = 0       # requests in flight
        self._activity = 0     # requests started or finished so far
        self._closed = False
        if self._trim is not None:
            threading.Thread(target=self._run, name="idle-trim", daemon=True).start()

    def started(self) -> None:
        with self._changed:
            self._active += 1
            self._activity += 1

    def finished(self) -> None:
        with self._changed:
            self._active -= 1
            self._activity += 1
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def _run(self) -> None:
        trimmed_at = 0
        while True:
            with self._changed:
                while not self._closed and (self._active or self._activity == trimmed_at):
                    self._changed.wait()
                seen = self._activity
                self._changed.wait_for(lambda: self._closed or self._activity != seen, self.delay)
                if self._closed:
                    return
                if self._activity != seen:
                    continue
                trimmed_at = seen
            self._trim(0)
