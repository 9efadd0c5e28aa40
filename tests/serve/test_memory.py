"""The server's idle trim: once, after `delay` seconds without a request, and never while one is in flight."""
import time

from trainer.serve.memory import IdleTrimmer, _malloc_trim


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
    trim = _malloc_trim()
    assert trim is not None and trim(0) in (0, 1)
