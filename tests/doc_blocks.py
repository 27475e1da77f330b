"""Turn the documentation's tested code blocks into one bash script, so every command shown is run.

A block is tested when its info string says so::

    ```shell test                      lines starting with "$ " are commands (a trailing "\\" continues one);
    $ abaco actors list                other lines are sample output, shown to the reader, not compared
    ```
    ```shell test exit=3               every command of the block must exit with 3 (error examples)
    ```python test                     run with the project's Python; each block is its own process
    ```shell test requires=listActorNonces   run only when the API serves that OpenAPI operation

Blocks run in document order in one bash process, so shell variables carry from block to block.
``localhost:8000`` is rewritten to the private stack's address.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```(\w+)(.*)$")
LOCAL_API = re.compile(r"(?:localhost|127\.0\.0\.1):8000")
PY_END = "ABACO_DOC_PYTHON_END"


@dataclass(frozen=True)
class Block:
    path: str
    line: int  # 1-based line of the opening fence
    language: str
    body: tuple[str, ...]
    expect_exit: int = 0
    requires: tuple[str, ...] = field(default_factory=tuple)

    def commands(self) -> list[tuple[int, str]]:
        """(line, command) of a shell block: ``$ `` lines, joined over trailing backslashes."""
        found: list[tuple[int, str]] = []
        pending: list[str] | None = None
        start = 0
        for offset, text in enumerate(self.body, start=self.line + 1):
            if pending is not None:
                pending.append(text)
            elif text.startswith("$ "):
                pending, start = [text[2:]], offset
            else:
                continue
            if not text.endswith("\\"):
                found.append((start, "\n".join(pending)))
                pending = None
        if pending is not None:
            raise ValueError(f"{self.path}:{start}: command ends with a continuation backslash")
        return found


def blocks_to_run(path: Path, root: Path) -> list[Block]:
    """Every block of ``path`` whose info string contains the word ``test``."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        end = next((j for j in range(index + 1, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise ValueError(f"{path}:{index + 1}: unterminated code block")
        words = match.group(2).split()
        if "test" in words:
            options = dict(w.split("=", 1) for w in words if "=" in w)
            blocks.append(Block(str(path.relative_to(root)), index + 1, match.group(1),
                                tuple(lines[index + 1:end]), int(options.get("exit", 0)),
                                tuple(filter(None, options.get("requires", "").split(",")))))
        index = end + 1
    return blocks


def script(blocks: Iterable[Block], api_url: str, python: str, served: set[str]) -> tuple[str, list[Block]]:
    """The bash script running ``blocks`` against ``api_url``; also the blocks skipped for missing routes."""
    host = api_url.split("://", 1)[-1]
    out = ["set -u", f"PYTHON={shlex.quote(python)}", "ran=0"]
    skipped: list[Block] = []
    for block in blocks:
        if any(op not in served for op in block.requires):
            skipped.append(block)
            continue
        if block.language in ("shell", "sh", "bash", "console"):
            for line, command in block.commands():
                out += _check(LOCAL_API.sub(host, command), f"{block.path}:{line}", block.expect_exit)
        elif block.language == "python":
            code = LOCAL_API.sub(host, "\n".join(block.body))
            if PY_END in code:
                raise ValueError(f"{block.path}:{block.line}: block contains {PY_END}")
            out += _check(f'"$PYTHON" - <<\'{PY_END}\'\n{code}\n{PY_END}', f"{block.path}:{block.line}",
                          block.expect_exit)
        else:
            raise ValueError(f"{block.path}:{block.line}: cannot test a {block.language} block")
    out.append('echo "doc commands run: $ran"')
    return "\n".join(out) + "\n", skipped


def _check(command: str, where: str, expected: int) -> list[str]:
    shown = command.splitlines()[0][:200]
    return [
        f"echo {shlex.quote('>>> ' + where + ': ' + shown)}",
        "started=$EPOCHREALTIME",
        command,
        'rc=$?; ran=$((ran + 1)); echo "<<< exit $rc in $(( (${EPOCHREALTIME/./} - ${started/./}) / 1000 )) ms"',
        f'if [ "$rc" -ne {expected} ]; then echo {shlex.quote("FAILED at " + where)}" (exit $rc, expected '
        f'{expected})" >&2; exit 1; fi',
    ]
