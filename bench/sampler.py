"""A CPU profile of every thread of a process: ``python -m bench.sampler OUT -m MODULE [ARGS...]``.

py-spy cannot attach to processes on this machine (no ptrace), and cProfile on its own sees the thread
that enabled it only, while the emulator, the API and the runner each do their work on many threads.
This wrapper runs ``MODULE`` as ``__main__`` with a cProfile profiler in every thread (the main one, and
each new one through ``threading.setprofile``), timed by the thread's own CPU clock (``time.thread_time``),
so a thread blocked in a socket read or on a lock costs nothing. At exit the threads' profiles are merged
into ``OUT`` (pstats format: ``python -m pstats OUT``, snakeviz, or flameprof for a flame graph).
"""
from __future__ import annotations

import atexit
import cProfile
import pstats
import runpy
import sys
import threading
import time
from typing import Any

_PROFILES: list[cProfile.Profile] = []
_LOCK = threading.Lock()


def _start() -> cProfile.Profile:
    profile = cProfile.Profile(timer=time.thread_time)
    with _LOCK:
        _PROFILES.append(profile)
    profile.enable()
    return profile


def _in_new_thread(_frame: Any, _event: str, _arg: Any) -> None:
    """The first profile event of a new thread: replace this hook by the thread's own profiler."""
    sys.setprofile(None)
    _start()


def write(out: str) -> None:
    """Merge every thread's profile into ``out`` (threads still running give what they have so far)."""
    with _LOCK:
        profiles = list(_PROFILES)
    merged: pstats.Stats | None = None
    for profile in profiles:
        profile.disable()  # the calling thread's only; the others' entries are read as they are
        profile.create_stats()
        if not profile.stats:  # type: ignore[attr-defined]
            continue
        if merged is None:
            merged = pstats.Stats(profile)
        else:
            merged.add(profile)
    if merged is not None:
        merged.dump_stats(out)


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: python -m bench.sampler OUT -m MODULE [ARGS...]")
    threading.setprofile(_in_new_thread)
    atexit.register(write, out)
    sys.argv = [module, *rest]
    _start()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
