"""The server's memory: freed blocks reused under load (glibc's settings), and the idle trim: once, after `delay`
seconds without a request, and never while one is in flight."""
import subprocess
import sys
import time

from trainer.serve.memory import IdleTrimmer, _libc_function


def _settle():
    time.sleep(0.8)


def test_trims_once_per_idle_spell_and_never_while_busy():
    calls = []
    trimmer = IdleTrimmer(delay=0.3, trim=calls.append)
    _settle()
    assert calls == []                # nothing happened yet: nothing to give back
    trimmer.started()
    _settle()
    assert calls == []                # busy
    trimmer.finished()
    _settle()
    assert calls == [0]               # idle for `delay`: trimmed once
    _settle()
    assert calls == [0]               # still idle: not again
    for _ in range(5):                # a steady stream, gaps shorter than `delay`
        trimmer.started()
        trimmer.finished()
        time.sleep(0.02)
    assert calls == [0]
    _settle()
    assert calls == [0, 0]
    trimmer.close()


def test_glibc_malloc_trim_is_found_and_runs():
    trim = _libc_function("malloc_trim")
    assert trim is not None and trim(0) in (0, 1)


# A block the size of a batch's class probabilities (8 × 513² × 21 float32), filled, freed, allocated and filled
# again; prints the page faults of the second fill. In its own process: the settings hold for a whole process.
_REFILL = """
import ctypes, resource, sys
from trainer.serve.memory import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = libc.memset.restype = ctypes.c_void_p
libc.malloc.argtypes, libc.free.argtypes = [ctypes.c_size_t], [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
size = 8 * 513 * 513 * 21 * 4
libc.free(libc.memset(libc.malloc(size), 1, size))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
block = libc.malloc(size)
libc.memset(block, 1, size)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _refill_faults(mode: str) -> int:
    return int(subprocess.run([sys.executable, "-c", _REFILL, mode], capture_output=True, text=True,
                              check=True).stdout)


def test_a_freed_batch_sized_block_is_reused_without_page_faults():
    # glibc's default maps a block this size fresh each time: every page faults (and is cleared) again; 43,177
    # faults here, a hundredth of that where transparent huge pages are always on
    default, reuse = _refill_faults("default"), _refill_faults("reuse")
    assert reuse * 10 < default, (default, reuse)
