"""No import cycles among engine/, storage/ and config/ - function-level imports included.

The graph is built with ``ast`` (no module is imported): every ``import x.y`` and ``from x import y``
anywhere in a module (top level, inside functions, under ``if TYPE_CHECKING``) is an edge, and
so is each name in a ``*_MODULES`` list of module names (``engine.cli.GROUP_MODULES``, loaded
with importlib: ``engine.backtest.cli`` importing ``engine.cli`` was a cycle through it).
``from pkg import name`` points at ``pkg.name`` when that is a module, else at ``pkg``; relative
imports are resolved against the importing module.  Importing ``a.b.c`` also runs ``a/__init__``
and ``a/b/__init__``, so those packages are edges too (that is how ``engine.jobs.__init__``
re-exporting the runner used to pull the runner into every module that only wanted ``progress``).
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "storage", "config")


def module_files(root: Path = ROOT, packages=PACKAGES) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in packages:
        for p in (root / pkg).rglob("*.py"):
            parts = list(p.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of a dotted name that is one of our modules."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in modules:
            return cand
        parts.pop()
    return None


def _with_parents(mod: str, modules: dict[str, Path]) -> list[str]:
    """``a.b.c`` -> [a, a.b, a.b.c] (those that are ours): importing a module runs its packages' __init__."""
    parts = mod.split(".")
    return [m for m in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if m in modules]


def imports_of(mod: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    implicit: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                r = _resolve(a.name, modules)
                if r:
                    found.add(r)
                    implicit.update(_with_parents(r, modules))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                r = _resolve(f"{target}.{a.name}", modules) if a.name != "*" else None
                if r is None:
                    r = _resolve(target, modules)
                if r:
                    found.add(r)
                    implicit.update(_with_parents(r, modules))
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.endswith("_MODULES")
                                                  for t in node.targets) and isinstance(node.value, (ast.List, ast.Tuple)):
            # a list of module names loaded with importlib (engine.cli's GROUP_MODULES): edges too
            for el in node.value.elts:
                r = _resolve(el.value, modules) if isinstance(el, ast.Constant) and isinstance(el.value, str) else None
                if r:
                    found.add(r)
                    implicit.update(_with_parents(r, modules))
    # the packages above a module are loaded before it runs: an implicit edge to one of them is not a
    # new load (an explicit `from engine.jobs import x` inside engine/jobs/y.py still counts)
    found |= {m for m in implicit if not mod.startswith(m + ".")}
    found.discard(mod)
    return found


def import_graph(root: Path = ROOT, packages=PACKAGES) -> dict[str, set[str]]:
    modules = module_files(root, packages)
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    sccs: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:  # recursion depth <= number of modules (a few hundred)
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sccs


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component, as a path a -> ... -> a."""
    return [_cycle_in(comp, graph) for comp in strongly_connected(graph)]


def _cycle_in(comp: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component (BFS)."""
    members = set(comp)
    start = comp[0]
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return comp  # unreachable for a real SCC


# Cycles that came in with work merged while their files were being edited by their owners; each is listed
# with what breaks it and is refused as soon as it changes (a module more or less) or is gone (then delete
# the entry). Any other cycle fails the test. Keep this empty.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def test_no_import_cycles_in_engine_storage_config():
    graph = import_graph()
    assert len(graph) > 50
    sccs = strongly_connected(graph)
    new = [_cycle_in(c, graph) for c in sccs if frozenset(c) not in KNOWN_CYCLES]
    assert not new, "import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in new)
    gone = [sorted(k) for k in KNOWN_CYCLES if k not in {frozenset(c) for c in sccs}]
    assert not gone, f"no longer cycles, delete them from KNOWN_CYCLES: {gone}"


def test_progress_module_imports_nothing_from_the_project():
    graph = import_graph()
    assert graph["engine.progress"] == set()


def test_the_scan_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "engine" / "x"
    pkg.mkdir(parents=True)
    (tmp_path / "engine" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from engine.x.a import f\n")
    (pkg / "a.py").write_text("def f():\n    from . import b\n    return b\n")
    (pkg / "b.py").write_text("def g():\n    from engine.x import a\n    return a\n")
    (pkg / "c.py").write_text("import engine.x.b\n")
    graph = import_graph(tmp_path, ("engine",))
    assert graph["engine.x"] == {"engine.x.a"}
    assert graph["engine.x.a"] == {"engine.x.b"}
    assert graph["engine.x.b"] == {"engine.x.a"}
    assert graph["engine.x.c"] == {"engine.x.b"}
    assert find_cycles(graph) == [["engine.x.a", "engine.x.b", "engine.x.a"]]
    (pkg / "b.py").write_text("def g():\n    return 1\n")
    assert find_cycles(import_graph(tmp_path, ("engine",))) == []
