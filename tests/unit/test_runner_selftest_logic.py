"""The self-test's verdict (``runners/host/selftest.py``): the one line names what the container missed."""
from __future__ import annotations

from pathlib import Path

import pytest

from runners.host.selftest import SelfTestFailed, verdict

DIRECTORY = Path("/tmp/abaco-runner/selftest-1")
SHA = "ab" * 32
SEEN = f"hosts-ok\nsocket-ok\npayload {SHA}  /_abaco_binary_data\n"


def test_a_container_that_saw_everything_passes() -> None:
    verdict(SEEN, b"<13>Dec  7 08:30:43 abaco: selftest n0nce", "n0nce", SHA, DIRECTORY)


@pytest.mark.parametrize(("output", "received", "named"), [
    ("hosts-missing\nsocket-missing\npayload-missing\n", b"", "/etc/hosts, the results socket at /_abaco_results.sock"),
    (SEEN.replace(SHA, "cd" * 32), b"n0nce", "sha256 differs"),
    (SEEN, b"", "never reached the runner"),
])
def test_what_the_container_missed_is_named_with_the_fix(output: str, received: bytes, named: str) -> None:
    with pytest.raises(SelfTestFailed) as caught:
        verdict(output, received, "n0nce", SHA, DIRECTORY)
    line = str(caught.value)
    assert named in line and "ABACO_RUNNER_WORK_DIR" in line and "\n" not in line
