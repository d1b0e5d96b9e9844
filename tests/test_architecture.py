"""The house's arrows (docs/house.md), read from the source with `ast`: the pure core imports nothing but the
standard library and its four numeric packages; no import circle between our modules or our packages; each
package imports only the rooms below it."""

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = "sla.core"
CORE_MAY_IMPORT = frozenset({"numpy", "pandas", "holidays", "dateutil"})

BELOW_SLA = {"kernel", CORE, "procedures", "accounts", "dossiers", "complaints"}
ALLOWED = {
    # room: the rooms it may import (its own always)
    "kernel": set(),
    CORE: set(),
    "procedures": {"kernel", CORE},
    "accounts": {"kernel", CORE, "procedures"},  # a user's scope is an agency subtree of the catalogue
    "dossiers": {"kernel", CORE, "procedures", "accounts"},
    "complaints": {"kernel", CORE, "procedures", "accounts", "dossiers"},  # a complaint may name its dossier
    "sla": BELOW_SLA,
    "exchange": BELOW_SLA | {"sla"},
    "notify": BELOW_SLA | {"sla"},
    "migrations": {"kernel"},  # revisions name kernel.db's column type; the tables come from api.db
    "seed": BELOW_SLA | {"sla"},
    "api": None,  # the composition root: everything
    "bench": None,
    "tests": None,
}
ROOMS = sorted(ALLOWED)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of ours (top-level packages of the repository), by dotted name."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in ALLOWED and not any(part.startswith(".") for part in relative.parts):
            found[_module_name(path)] = path  # directories without __init__.py (tests, bench, revisions) too
    return found


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _import_nodes(tree: ast.AST):
    """Every import statement, module-level or inside functions, but those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


@cache
def imports_of(name: str) -> frozenset[tuple[str, int]]:
    """(module imported, line) pairs of one module: for `from a.b import c`, `a.b.c` when it is a module, else
    `a.b`; third-party modules by their dotted name too."""
    path = modules()[name]
    source = path.read_text()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update((alias.name, node.lineno) for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            target = f"{base}.{alias.name}"
            found.add((target if target in modules() else base, node.lineno))
    return frozenset(found)


def ours(module: str) -> bool:
    return module.split(".")[0] in ALLOWED and module.split(".")[0] not in ("sys",)


def _with_packages(module: str) -> list[str]:
    """A module and the packages above it: importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` too."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in modules()]


@cache
def module_graph() -> dict[str, set[str]]:
    graph = {name: set() for name in modules()}
    for name in modules():
        own_packages = set(_with_packages(name))
        for target, _ in imports_of(name):
            if ours(target):
                graph[name].update(m for m in _with_packages(target) if m not in own_packages and m != name)
    return graph


def room(module: str) -> str:
    return CORE if module == CORE or module.startswith(CORE + ".") else module.split(".")[0]


def package_graph() -> dict[str, set[str]]:
    graph = {name: set() for name in ROOMS}
    for name in modules():
        for target, _ in imports_of(name):
            if ours(target) and room(target) != room(name):
                graph[room(name)].add(room(target))
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = [0]

    def visit(node):  # iterative enough for our depth: recursion over at most a few hundred modules
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# --- the checks ------------------------------------------------------------------------------------


def test_the_graph_sees_the_house():
    names = modules()
    for expected in ("kernel.errors", "accounts.service", "sla.core.replay", "api.db", "migrations.env", "sla"):
        assert expected in names
    assert ("api.db", "migrations") in {(n, t) for n in ["api.db"] for t, _ in imports_of(n)}
    assert "kernel.errors" in module_graph()["sla"]  # a package's own __init__ imports count


def test_the_pure_core_imports_only_the_standard_library_and_its_numeric_packages():
    allowed = set(sys.stdlib_module_names) | CORE_MAY_IMPORT
    problems = [
        f"{name}:{line} imports {target}"
        for name in modules()
        if room(name) == CORE
        for target, line in sorted(imports_of(name))
        if not (room(target) == CORE or (not ours(target) and target.split(".")[0] in allowed))
    ]
    assert problems == []


def test_no_import_circle_between_modules():
    assert circles(module_graph()) == []


def test_no_import_circle_between_packages():
    assert circles(package_graph()) == []


def test_migrations_and_the_composition_root_go_one_way():
    assert "migrations.env" in modules()
    assert not any(ours(t) for t, _ in imports_of("migrations.env"))  # the tables come in Alembic's config
    assert "api" not in package_graph()["migrations"]


@pytest.mark.parametrize("source", [r for r in ROOMS if ALLOWED[r] is not None])
def test_each_package_imports_only_the_rooms_below_it(source):
    wrong = sorted(
        f"{name}:{line} imports {target}"
        for name in modules()
        if room(name) == source
        for target, line in imports_of(name)
        if ours(target) and room(target) != source and room(target) not in ALLOWED[source]
    )
    assert wrong == []


DOSSIER_SEAMS = {
    # the modules of dossiers/ along its seams: each imports only those named here (docs/house.md)
    "dossiers.reading": set(),
    "dossiers.search": {"dossiers.reading"},
    "dossiers.derive": {"dossiers.reading"},
    "dossiers.rebuild": {"dossiers.reading", "dossiers.derive"},
    "dossiers.intake": {"dossiers.reading", "dossiers.derive"},
    "dossiers.events": {"dossiers.reading", "dossiers.derive", "dossiers.intake"},
}


@pytest.mark.parametrize("source", sorted(DOSSIER_SEAMS))
def test_the_dossier_seams_go_one_way(source):
    wrong = sorted(
        f"{source}:{line} imports {target}"
        for target, line in imports_of(source)
        if target in DOSSIER_SEAMS and target not in DOSSIER_SEAMS[source]
    )
    assert wrong == []


WRITES = {"dossiers.intake": "receive", "dossiers.events": "record"}
USE_CASES = "api.routes.dossiers"  # receive_dossier, record_dossier_event: the JSON routes' and the pages' one door


def _writes_called(name: str) -> list[str]:
    """Where module `name` calls `dossiers.intake.receive` or `dossiers.events.record` (or imports them)."""
    tree = ast.parse(modules()[name].read_text())
    aliases, found = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "dossiers":
            aliases |= {a.asname or a.name: f"dossiers.{a.name}" for a in node.names if f"dossiers.{a.name}" in WRITES}
        if isinstance(node, ast.ImportFrom) and node.module in WRITES:
            found += [f"{name}:{node.lineno}" for a in node.names if a.name == WRITES[node.module]]
    for node in ast.walk(tree):
        named = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
        if named and node.attr == WRITES[aliases[node.value.id]]:
            found.append(f"{name}:{node.lineno}")
    return found


def test_one_use_case_two_doors():
    """A page receives a dossier or records its event through the function the JSON route calls, never through
    the service itself: the doors differ only in how they read the request and answer (docs/house.md)."""
    assert _writes_called(USE_CASES)  # the check sees the calls
    wrong = [where for name in modules() if room(name) == "api" and name != USE_CASES for where in _writes_called(name)]
    assert wrong == []


def test_nothing_imports_api_but_the_entry_points():
    entry = {"api", "bench", "tests"}
    assert sorted(r for r, targets in package_graph().items() if "api" in targets and r not in entry) == []


def test_the_checks_would_see_a_circle_and_a_wrong_arrow():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    assert "sla" not in ALLOWED["dossiers"] and "api" not in ALLOWED["sla"] and ALLOWED["kernel"] == set()


def test_kernel_and_the_core_agree_on_local_time():
    from kernel.localtime import LOCAL_TZ, MINUTE_FORMAT
    from sla.core import calendar

    assert calendar.LOCAL_TZ.key == LOCAL_TZ.key
    assert calendar.LOCAL_MINUTE_FORMAT == MINUTE_FORMAT
