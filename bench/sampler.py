"""A small sampling profiler for the hot-path profiles: ``python -m bench.sampler OUT -m MODULE [ARGS...]``.

py-spy cannot attach to processes on this machine (no ptrace), and cProfile sees one thread only, while
the emulator, the API and the runner each do their work on many threads. This wrapper runs ``MODULE`` as
``__main__`` and, from a daemon thread, samples every thread's Python stack every ``INTERVAL`` seconds
(``sys._current_frames``) and charges each stack with the CPU its thread used since the previous sample
(the thread's own CPU clock, ``pthread_getcpuclockid``), so a thread blocked in a socket read or a lock
costs nothing and the weights are CPU microseconds, not wall time. At exit it writes the stacks in the
collapsed format that flame graph tools read (``frame;frame;frame weight`` per line, root first).
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
_CWD = os.getcwd() + "/"


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
        last: dict[int, int] = {}
        while not self._stop.wait(self.interval):
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                try:
                    used = time.clock_gettime_ns(time.pthread_getcpuclockid(ident))
                except (OSError, ValueError):  # the thread ended meanwhile
                    continue
                spent, last[ident] = used - last.get(ident, used), used
                if spent >= 1000:  # microseconds of CPU since the previous sample
                    self.counts[";".join(stack(frame))] += spent // 1000

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
