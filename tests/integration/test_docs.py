"""Every command the user documentation shows is run, in order, against a private stack.

The README quickstart and docs/user-guide.md mark their blocks ``test`` (see ``tests/doc_blocks.py``);
curl, the ``abaco`` CLI and SDK snippets all run for real (API over HTTP, emulator, Docker). Blocks that
need a route the API does not serve yet (``requires=<operationId>``) are reported as skipped.
"""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local.launcher import Stack
from tests.conftest import start_stack
from tests.doc_blocks import FENCE, blocks_to_run, script

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/user-guide.md", "docs/compatibility.md")
DOC_RUN_TIMEOUT = 900  # seconds for every documented command together
MIN_COMMANDS = 60  # the guide shows at least this many commands; fewer means blocks stopped being found


@pytest.fixture(scope="module")
def doc_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack(tmp_path_factory.mktemp("docs-stack"), env={"ABACO_WORKER_SLOTS": "16"})
    yield stack
    stack.stop()


def served_operations(api_url: str) -> set[str]:
    document = requests.get(api_url + "/actors/openapi.json", timeout=30).json()
    return {op["operationId"] for item in document["paths"].values() for op in item.values()}


def test_every_code_block_is_tested_or_says_why_not() -> None:
    untested = []
    for name in DOCS:
        for number, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), start=1):
            match = FENCE.match(line)
            if match and match.group(1) in ("shell", "sh", "bash", "python", "console"):
                words = match.group(2).split()
                if "test" not in words and "no-test" not in words:
                    untested.append(f"{name}:{number}")
    # Opening and closing fences alternate; a closing fence has no language, so it never matches.
    assert untested == [], "mark these blocks `test` (or `no-test` when they cannot run in a test)"


@pytest.mark.docker
@pytest.mark.timeout(DOC_RUN_TIMEOUT + 120)
def test_documented_commands_run(doc_stack: Stack, tmp_path: Path) -> None:
    blocks = [block for name in DOCS for block in blocks_to_run(ROOT / name, ROOT)]
    text, skipped = script(blocks, doc_stack.api_url, sys.executable, served_operations(doc_stack.api_url))
    (tmp_path / "docs.sh").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABACO_")}
    env.update({"HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
                "COLUMNS": "160"})
    result = subprocess.run(["bash", str(tmp_path / "docs.sh")], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=DOC_RUN_TIMEOUT, check=False)
    (tmp_path / "docs.log").write_text(result.stdout + "\n--- stderr ---\n" + result.stderr)
    tail = "\n".join((result.stdout + "\n" + result.stderr).splitlines()[-60:])
    assert result.returncode == 0, tail
    ran = int(result.stdout.rsplit("doc commands run: ", 1)[1].split()[0])
    assert ran >= MIN_COMMANDS - sum(len(b.commands()) if b.language != "python" else 1 for b in skipped), tail
    for block in skipped:
        warnings.warn(f"{block.path}:{block.line} not run: the API does not serve {', '.join(block.requires)} "
                      "yet", stacklevel=1)
