"""Imports run one way: domains -> plumbing, and only the edge knows every domain.

An AST scan of the source files (fast, no imports executed). Imports inside functions and
under ``TYPE_CHECKING`` count too: a lazy import still ties the two modules together.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "omnikanal"

# Each owns its tables, rules and reactions (DESIGN.md, "Domains").
DOMAINS = frozenset(
    {
        "analytics",
        "catalog",
        "commerce",
        "console",
        "conversations",
        "customers",
        "events",
        "experiments",
        "exports",
        "imports",
        "inventory",
        "loyalty",
        "marketing",
        "notifications",
        "privacy",
        "recommendations",
    }
)
# Where the app, the worker and the schema are assembled from every domain (convention 13).
EDGE = frozenset(
    {
        "omnikanal.__main__",
        "omnikanal.app",
        "omnikanal.cli",
        "omnikanal.demo",
        "omnikanal.entry",
        # Readiness is read from plumbing and domains alike (the ingest writer, the
        # resolution lag): it answers for the assembled app.
        "omnikanal.health",
        "omnikanal.migrations",
        "omnikanal.models",
        "omnikanal.wiring",
    }
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from omnikanal import customers`` names the package in the alias.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("omnikanal.")}


def _module_of(name: str, modules: dict[str, Path]) -> str:
    """``omnikanal.uow.unit_of_work`` -> ``omnikanal.uow``: the module a name lives in."""
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def _domain_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in DOMAINS else None


def _in_edge(module: str) -> bool:
    return any(module == edge or module.startswith(f"{edge}.") for edge in EDGE)


def _plumbing() -> dict[str, Path]:
    """Everything neither a domain nor the edge: a new shared module is covered unasked."""
    return {
        name: path
        for name, path in _modules().items()
        if name != "omnikanal" and _domain_of(name) is None and not _in_edge(name)
    }


def test_the_scan_sees_the_plumbing() -> None:
    plumbing = _plumbing()
    for expected in (
        "omnikanal.outbox.registry",
        "omnikanal.outbox.relay",
        "omnikanal.uow",
        "omnikanal.db",
        "omnikanal.http",
        "omnikanal.errors",
        "omnikanal.kit.limits",
        "omnikanal.timers.runner",
        "omnikanal.idempotency.service",
        "omnikanal.auth.service",
        "omnikanal.worker",
    ):
        assert expected in plumbing
    assert all((PACKAGE / domain).is_dir() for domain in DOMAINS)


@pytest.mark.parametrize("module", sorted(_plumbing()))
def test_plumbing_imports_no_domain(module: str) -> None:
    domains = sorted(
        name for name in _imported(_plumbing()[module]) if _domain_of(name) is not None
    )
    assert domains == [], f"{module} is plumbing and must not import a domain: {domains}"


def test_only_the_edge_imports_the_edge() -> None:
    offenders = sorted(
        f"{name} imports {target}"
        for name, path in _modules().items()
        if not _in_edge(name)
        for target in _imported(path)
        if _in_edge(target)
    )
    assert offenders == []


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in ``graph`` (as a path back to its start), or [] when there is none."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        for target in sorted(graph[module]):
            found = visit(target, [*path, module])
            if found:
                return found
        done.add(module)
        return []

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return []


def test_no_import_cycle_runs_through_plumbing() -> None:
    # Plumbing imports neither domains nor the edge (above), so a cycle through it stays inside.
    plumbing = _plumbing()
    graph = {
        name: {_module_of(target, plumbing) for target in _imported(path)} & set(plumbing) - {name}
        for name, path in plumbing.items()
    }
    assert "omnikanal.outbox.registry" in graph["omnikanal.outbox.relay"]
    assert _cycle(graph) == []
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_anywhere() -> None:
    # Domains talk through services and events; a service that imports back the domain
    # that imports it ties the two into one (the circle of 29 modules the wiring broke).
    modules = _modules()
    graph = {
        name: {_module_of(target, modules) for target in _imported(path)} - {name}
        for name, path in modules.items()
    }
    assert "omnikanal.customers.service" in graph["omnikanal.events.service"]
    assert _cycle(graph) == []
