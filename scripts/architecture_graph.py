"""Draw the layer picture of docs/architecture.md from the real import graph.

Every module of ``app.py``, ``chalicelib``, ``runners`` and ``local`` is parsed (imports under ``if
TYPE_CHECKING:`` are annotations and do not count); modules are grouped into their layer (the folder one
level below the package: ``chalicelib/edge``, ``runners/pipeline``, ...) and an arrow is drawn from a
layer to every layer it imports, labelled with the number of importing modules. The output is a Mermaid
graph (GitHub renders it as a picture) written between the markers in docs/architecture.md.

    python scripts/architecture_graph.py           # rewrite the picture in docs/architecture.md
    python scripts/architecture_graph.py --check   # exit 1 when the committed picture is stale
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- import-graph:begin -->", "<!-- import-graph:end -->"
PACKAGES = ("chalicelib", "runners", "local")
# Layers in reading order (top of the picture first) with their one-line role.
LAYERS = {
    "app": "app.py: the Chalice app",
    "chalicelib.api": "api: views",
    "chalicelib.edge": "edge: routing, guard, envelope, limits",
    "chalicelib.identity": "identity: tokens, callers",
    "chalicelib.services": "services: use cases",
    "chalicelib.adapters": "adapters: AWS, stores",
    "chalicelib.wiring": "wiring: settings, backend, resources",
    "chalicelib.domain": "domain: models, errors, pure logic",
    "local": "local: emulator, local edge, launcher",
    "runners.host": "runners/host: daemon, workers",
    "runners.duties": "runners/duties: leased duties",
    "runners.pipeline": "runners/pipeline: per-message steps",
    "runners": "runners: fence, metrics",
}


def layer_of(module: str) -> str | None:
    best = None
    for layer in LAYERS:
        if (module == layer or module.startswith(layer + ".")) and (best is None or len(layer) > len(best)):
            best = layer
    return best


def module_files() -> dict[str, Path]:
    files = {"app": ROOT / "app.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def layer_edges() -> dict[tuple[str, str], int]:
    """(from layer, to layer) -> how many modules of the first import something of the second."""
    files = module_files()
    importers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for module, path in files.items():
        source = layer_of(module)
        for name in imports(path):
            target = layer_of(name) if name.split(".")[0] in (*PACKAGES, "app") else None
            if source and target and target != source:
                importers[(source, target)].add(module)
    return {edge: len(modules) for edge, modules in importers.items()}


def render() -> str:
    ids = {layer: layer.replace(".", "_") for layer in LAYERS}
    lines = ["```mermaid", "flowchart TD"]
    lines += [f'    {ids[layer]}["{label}"]' for layer, label in LAYERS.items()]
    order = list(LAYERS)
    for (source, target), count in sorted(layer_edges().items(), key=lambda e: (order.index(e[0][0]),
                                                                                  order.index(e[0][1]))):
        lines.append(f"    {ids[source]} -->|{count}| {ids[target]}")
    lines.append("```")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    updated = f"{head}{BEGIN}\n{render()}\n{END}{tail}"
    if "--check" in argv:
        if updated != text:
            print("docs/architecture.md: the import picture is stale; run python scripts/architecture_graph.py")
            return 1
        return 0
    DOC.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
