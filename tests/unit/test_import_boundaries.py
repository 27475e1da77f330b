"""The layers of docs/architecture.md, as a test over every module's imports (lazy ones included).

Imports under ``if TYPE_CHECKING:`` are annotations only and do not count. The rules:

* the API package (``chalicelib``, deployed to Lambda) never imports docker, the runners or local mode;
* the domain (``chalicelib.domain``) imports only the domain and the standard library's friends: never
  boto3/botocore, chalice, or another layer of ``chalicelib``;
* only the AWS adapters and the wiring import boto3 or botocore;
* nothing below the HTTP edge imports the edge or the API views;
* the runner's per-message pipeline never imports the host or the duties.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("chalicelib", "runners", "local")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported(path: Path) -> Iterator[str]:
    """Every module name imported by the file, outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(), str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if _type_checking_block(node):
            skip.update(id(child) for child in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def graph() -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            result[module_name(path)] = set(imported(path))
    return result


GRAPH = graph()


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(source_prefix: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for module, imports in GRAPH.items():
        if not _within(module, source_prefix) or any(_within(module, a) for a in allowed):
            continue
        found += [f"{module} imports {name}" for name in sorted(imports)
                  if any(_within(name, f) for f in forbidden)]
    return found


def test_the_graph_covers_the_layers() -> None:
    for package in ("chalicelib.domain.models", "chalicelib.edge.http", "chalicelib.adapters.storage.executions",
                    "runners.pipeline.execution", "runners.host.daemon", "runners.duties.reconciler", "local.launcher"):
        assert package in GRAPH, package
    assert "chalicelib.domain.errors" in GRAPH["chalicelib.adapters.queues"]  # the parser sees real imports


def test_the_api_package_never_imports_docker_the_runners_or_local_mode() -> None:
    assert violations("chalicelib", ("docker", "runners", "local")) == []


def test_the_domain_imports_only_the_domain() -> None:
    others = ("chalicelib.edge", "chalicelib.api", "chalicelib.identity", "chalicelib.services",
              "chalicelib.adapters", "chalicelib.wiring", "boto3", "botocore", "chalice", "docker")
    assert violations("chalicelib.domain", others) == []


@pytest.mark.parametrize("layer", ["chalicelib.domain", "chalicelib.identity", "chalicelib.services",
                                   "chalicelib.edge", "chalicelib.api"])
def test_only_adapters_and_wiring_import_the_aws_sdk(layer: str) -> None:
    assert violations(layer, ("boto3", "botocore", "aioboto3")) == []


@pytest.mark.parametrize("layer", ["chalicelib.domain", "chalicelib.identity", "chalicelib.services",
                                   "chalicelib.adapters", "chalicelib.wiring"])
def test_nothing_below_the_edge_imports_the_edge_or_the_views(layer: str) -> None:
    assert violations(layer, ("chalicelib.edge", "chalicelib.api")) == []


def test_the_pipeline_never_imports_the_host_or_the_duties() -> None:
    assert violations("runners.pipeline", ("runners.host", "runners.duties")) == []


def test_the_duties_never_import_the_host() -> None:
    assert violations("runners.duties", ("runners.host",)) == []


def test_no_import_cycles_between_chalicelib_modules() -> None:
    """Module-level imports only (lazy ones inside functions may legitimately break a cycle)."""
    nodes = {m for m in GRAPH if m.startswith("chalicelib")}
    top: dict[str, set[str]] = {}
    for module in nodes:
        path = ROOT / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = ROOT / module.replace(".", "/") / "__init__.py"
        tree = ast.parse(path.read_text())
        names: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        top[module] = {n for n in names if n in nodes and n != module}
    cycles = []
    state: dict[str, int] = {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        for target in sorted(top[module]):
            if _within(module, target):
                continue  # a package's own __init__
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target):], target]))
            elif not state.get(target):
                visit(target, [*stack, target])
        state[module] = 2

    for module in sorted(top):
        if not state.get(module):
            visit(module, [module])
    assert cycles == []
