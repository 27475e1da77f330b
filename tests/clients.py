"""Run the real Abaco and Tapis clients (tapipy, agavepy from PyPI, unmodified) against a stack.

They live in their own virtual environment, ``.venv-clients`` (``make clients``, from
requirements-clients.txt): their pinned dependencies conflict with the dev tools, and PyPI's ``agavepy``
would shadow the in-container library of the same name (containerlib/agavepy). A test hands a short script
to ``run_client``; the script prints one JSON document on its last line of standard output, which is
returned. Use ``emit(value)`` in the script to print it.
"""
from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLIENTS_PYTHON = ROOT / ".venv-clients" / "bin" / "python"
PRELUDE = "import json, sys\n\ndef emit(value):\n    print(json.dumps(value, default=str))\n\n"


def clients_python() -> Path:
    if not CLIENTS_PYTHON.exists():
        pytest.fail(f"{CLIENTS_PYTHON} is missing: run `make clients` (make test does)")
    return CLIENTS_PYTHON


def run_client(script: str, env: dict[str, str] | None = None, timeout: float = 300.0) -> Any:
    """Run ``script`` with the clients' Python; return the JSON its last ``emit`` printed."""
    code = PRELUDE + textwrap.dedent(script)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ABACO_", "AWS_", "TAPIS_"))}
    result = subprocess.run([str(clients_python()), "-c", code], env={**clean, **(env or {})}, capture_output=True,
                            text=True, timeout=timeout, check=False, cwd=ROOT / "tests")
    assert result.returncode == 0, f"client script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, f"client script printed nothing:\n{result.stderr}"
    return json.loads(lines[-1])
