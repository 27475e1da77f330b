"""``python -m runners``: start one runner host against the configured endpoint."""
from __future__ import annotations

import logging
import sys

from chalicelib.backend import get_backend
from runners.host import RunnerHost


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    host = RunnerHost(get_backend())
    host.install_signal_handlers()
    host.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
