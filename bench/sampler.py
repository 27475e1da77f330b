"""A small sampling profiler for the hot-path profiles: ``python -m bench.sampler OUT -m MODULE [ARGS...]``.

py-spy cannot attach to processes on this machine (no ptrace), and cProfile sees one thread only, while
the emulator, the API and the runner each do their work on many threads. This wrapper runs ``MODULE`` as
``__main__`` and, from a daemon thread, samples every thread's Python stack every ``INTERVAL`` seconds
(``sys._current_frames``), ignoring threads that are blocked in a known wait (a socket read, a lock, a
sleep) so that the counts are CPU rather than wall time. At exit it writes the stacks in the collapsed
format that flame graph tools read (``frame;frame;frame count`` per line, root first).
"""
from __future__ import annotations

import atexit
import os
import runpy
import sys
import threading
import time
from collections import Counter
from types import FrameType

INTERVAL = 0.002
# Leaf functions that mean "waiting, not computing" (the stack of a thread parked in the kernel).
IDLE = frozenset({"wait", "select", "poll", "accept", "recv", "recv_into", "readinto", "sleep", "_wait_for_tstate_lock",
                  "acquire", "get", "read", "readline", "serve_forever", "_recv", "settimeout", "epoll", "park"})
_CWD = os.getcwd() + "/"
IDLE_FILES = ("selectors.py", "threading.py", "queue.py", "socketserver.py", "ssl.py")


def frame_name(frame: FrameType) -> str:
    code = frame.f_code
    path = code.co_filename.removeprefix(_CWD)
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{code.co_name} ({path})"


def stack(frame: FrameType | None) -> list[str]:
    """Root-first names of a thread's frames."""
    names: list[str] = []
    while frame is not None:
        names.append(frame_name(frame))
        frame = frame.f_back
    return names[::-1]


def idle(frame: FrameType) -> bool:
    """Whether the innermost frame is a known blocking wait (a sample of it is not CPU)."""
    name, path = frame.f_code.co_name, frame.f_code.co_filename
    return name in IDLE and (path.endswith(IDLE_FILES) or "socket" in path or "http" in path or "ssl" in path)


class Sampler:
    def __init__(self, out: str, interval: float = INTERVAL) -> None:
        self.out, self.interval = out, interval
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="bench-sampler", daemon=True).start()
        atexit.register(self.write)

    def _loop(self) -> None:
        me = threading.get_ident()
        while not self._stop.wait(self.interval):
            for ident, frame in sys._current_frames().items():
                if ident != me and not idle(frame):
                    self.counts[";".join(stack(frame))] += 1

    def write(self) -> None:
        self._stop.set()
        with open(self.out, "w") as handle:
            for line, count in self.counts.most_common():
                handle.write(f"{line} {count}\n")


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: python -m bench.sampler OUT -m MODULE [ARGS...]")
    Sampler(out).start()
    sys.argv = [module, *rest]
    began = time.monotonic()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        print(f"bench.sampler: {module} ran {time.monotonic() - began:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
