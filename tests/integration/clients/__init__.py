"""The real Abaco clients from PyPI, unmodified (tapipy 25.4.0, agavepy 0.9.5), against a local stack.

Each test hands a script to ``tests.clients.run_client`` (the clients' own virtual environment) and asserts
on what it emits: ids, statuses, and what the probe actor (``tests/integration/probe.py``) saw in its
container. A ``Target`` is one stack as a client reaches it: the session stack without access control, or
a jwt stack with Abaco v2 tokens (``conftest.py``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.clients import ROOT, run_client

COMPATIBILITY = ROOT / "docs" / "compatibility.md"


def doc_example(client: str, page: Path = COMPATIBILITY) -> str:
    """The page's one code block fenced as ```python no-test <client>```: not run by the documentation
    test (tests/integration/test_docs.py runs the project's Python), but by the client suites here."""
    found = re.findall(rf"^```python no-test {client}\n(.*?)^```$", page.read_text(encoding="utf-8"),
                       re.M | re.S)
    assert len(found) == 1, f"{page}: expected one python {client} block, found {len(found)}"
    return found[0]


@dataclass(frozen=True)
class Target:
    """How a client script reaches a stack: ``env`` is handed to the script (CLIENT_* variables)."""

    mode: str  # "none" or "jwt"
    env: dict[str, str] = field(default_factory=dict)
    owner: str = "anonymous"  # the user the main credentials name

    def run(self, script: str, **extra: str) -> Any:
        return run_client(script, env={**self.env, **extra})

    def as_user(self, user: str, credentials: dict[str, str]) -> Target:
        """The same stack with another user's credentials (jwt mode)."""
        return Target(self.mode, {**self.env, **credentials}, user)
