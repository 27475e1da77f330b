"""The documentation runner finds exactly the tested blocks and turns them into a checked script."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.doc_blocks import blocks_to_run, script

DOC = """# Title

```shell no-test
$ make run
```

```shell test
$ export ABACO_URL=http://localhost:8000
$ echo one \\
    two
one two
$ X=$(echo value)
```

```shell test exit=3
$ sh -c 'exit 3'
```

```python test
import os
print(os.environ["X"])
```

```shell test requires=notServed
$ false
```
"""


def test_blocks_commands_exits_and_requirements(tmp_path: Path) -> None:
    (tmp_path / "doc.md").write_text(DOC)
    blocks = blocks_to_run(tmp_path / "doc.md", tmp_path)
    assert [b.language for b in blocks] == ["shell", "shell", "python", "shell"]
    assert blocks[0].commands() == [(8, "export ABACO_URL=http://localhost:8000"), (9, "echo one \\\n    two"),
                                    (12, "X=$(echo value)")]
    assert blocks[1].expect_exit == 3 and blocks[3].requires == ("notServed",)


def test_script_runs_rewrites_the_address_and_stops_at_the_first_failure(tmp_path: Path) -> None:
    (tmp_path / "doc.md").write_text(DOC.replace("$ X=$(echo value)", "$ export X=$(echo value)"))
    blocks = blocks_to_run(tmp_path / "doc.md", tmp_path)
    text, skipped = script(blocks, "http://127.0.0.1:5555", "python3", served=set())
    assert "http://127.0.0.1:5555" in text and "localhost:8000" not in text and len(skipped) == 1
    done = subprocess.run(["bash", "-c", text], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "value" in done.stdout and "doc commands run: 5" in done.stdout

    failing = DOC.replace("$ sh -c 'exit 3'", "$ sh -c 'exit 4'")
    (tmp_path / "doc.md").write_text(failing)
    text, _ = script(blocks_to_run(tmp_path / "doc.md", tmp_path), "http://x", "python3", served=set())
    done = subprocess.run(["bash", "-c", text], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "FAILED at doc.md:16 (exit 4, expected 3)" in done.stderr


def test_unterminated_block_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "doc.md").write_text("```shell test\n$ ls\n")
    with pytest.raises(ValueError, match="unterminated"):
        blocks_to_run(tmp_path / "doc.md", tmp_path)
