"""abacosamples/sleep_loop: a long-running actor for testing streaming logs and force-quit.

Loops N times, printing ``Iteration i`` and sleeping one second. N comes from the
``_abaco_sleep_iterations`` variable (e.g. a query parameter of the message POST), else from
the message when it is an integer, else 10.
"""

import os
import time

from agavepy.actors import get_context

DEFAULT_ITERATIONS = 10


def iterations() -> int:
    """Choose the number of iterations from the environment, then the message."""
    from_env = os.environ.get("_abaco_sleep_iterations")  # noqa: SIM112 (Abaco's lower-case names)
    for candidate in (from_env, get_context()["message"]):
        try:
            return int(str(candidate).strip())
        except (TypeError, ValueError):
            continue
    return DEFAULT_ITERATIONS


def main() -> None:
    count = iterations()
    for i in range(1, count + 1):
        print(f"Iteration {i}", flush=True)
        time.sleep(1)
    print(f"Done after {count} iterations")


if __name__ == "__main__":
    main()
