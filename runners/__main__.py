"""``python -m runners``: start one runner host against the configured endpoint."""
from __future__ import annotations

import faulthandler
import signal
import sys

from chalicelib.adapters import tracing
from chalicelib.wiring import logconfig
from chalicelib.wiring.backend import get_backend
from runners.host.daemon import RunnerHost


def main() -> int:
    backend = get_backend()
    logconfig.configure("runner", backend.settings.log_format)
    tracing.configure(backend.settings, "abaco-runner")
    faulthandler.register(signal.SIGUSR1)  # operators: ``kill -USR1 <pid>`` prints every thread's stack
    host = RunnerHost(backend)
    host.install_signal_handlers()
    host.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
