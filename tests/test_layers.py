"""The package's stages import only downwards, and no module imports itself in a circle.

Walks every `import` in `asyncbench/` with `ast` (module level, inside functions and under
TYPE_CHECKING alike: a deferred import is still a dependency), so a cycle or an upward
import fails here with the offending chain instead of surfacing as an ImportError at run time.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "asyncbench"

# What each stage may import besides itself; the same map as asyncbench/__init__.py's docstring.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "sources": {"core"},
    "scoring": {"core"},
    "results": {"core"},
    "providers": {"core", "sources"},
    "servers": {"core", "sources"},
    "engine": {"core", "sources", "results", "providers"},
    "reporting": {"core", "sources", "results", "scoring", "engine"},
    "runs": {"core", "sources", "results", "scoring", "providers", "engine", "reporting"},
}
ALLOWED["cli"] = set(ALLOWED)  # the CLI may import every stage (and `cli` is itself)
# Top-level modules that are not a stage: the docstring-only package and `python -m`.
ENTRY = {"asyncbench": set(), "asyncbench.__main__": {"cli"}}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool) -> set[str]:
    """Every asyncbench module this source names, resolving relative imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "asyncbench")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "asyncbench":
                continue
            found.add(base)
            # `from asyncbench.reporting import plots` imports the module plots too
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        named = imports_of(path.read_text("utf-8"), name, path.name == "__init__.py")
        graph[name] = {n for n in named if n in files and n != name}
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle as a chain `a -> b -> ... -> a`, or None (iterative DFS)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        path: list[str] = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def upward_imports(graph: Mapping[str, set[str]]) -> list[str]:
    """`a -> b (stage x may import only ...)` for every import a stage is not allowed."""
    bad: list[str] = []
    for module, deps in sorted(graph.items()):
        stage = stage_of(module)
        if stage is None and module not in ENTRY:
            bad.append(f"{module} belongs to no stage (put it in one of {sorted(ALLOWED)})")
            continue
        allowed = ALLOWED[stage] if stage else ENTRY[module]
        for dep in sorted(deps):
            target = stage_of(dep)
            if target == stage or dep == "asyncbench":
                continue
            if target not in allowed:
                bad.append(
                    f"{module} -> {dep}: {stage or module} may import only "
                    f"{', '.join(sorted(allowed)) or 'nothing of asyncbench'}"
                )
    return bad


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_stages_import_only_downwards() -> None:
    bad = upward_imports(import_graph())
    assert not bad, "imports against the stage order:\n" + "\n".join(bad)


def test_the_docstring_map_names_every_stage() -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text("utf-8"))) or ""
    missing = [s for s in ALLOWED if f"`{s}`" not in doc]
    assert not missing, f"asyncbench/__init__.py's map does not describe {missing}"
    on_disk = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert on_disk == set(ALLOWED), f"stage packages on disk {sorted(on_disk)} != map"


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "asyncbench" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "asyncbench"


def test_a_deferred_cycle_is_found_with_its_chain(tmp_path: Path) -> None:
    """The shape the tree had before the regroup: cli -> batch at module level, and
    batch -> cli inside a function."""
    pkg = write_tree(
        tmp_path,
        {
            "__init__.py": "",
            "cli/__init__.py": "",
            "cli/app.py": "from asyncbench.cli.batch import make\n",
            "cli/batch.py": "def make():\n    from asyncbench.cli.app import run_config\n",
        },
    )
    assert find_cycle(import_graph(pkg)) == [
        "asyncbench.cli.app",
        "asyncbench.cli.batch",
        "asyncbench.cli.app",
    ]


def test_an_upward_import_is_named(tmp_path: Path) -> None:
    pkg = write_tree(
        tmp_path,
        {
            "__init__.py": "",
            "engine/__init__.py": "",
            "engine/pipeline.py": "",
            "providers/__init__.py": "",
            "providers/x.py": "from . import y\nfrom asyncbench.engine import pipeline\n",
            "providers/y.py": "",
            "flat.py": "",
        },
    )
    bad = upward_imports(import_graph(pkg))
    assert bad == [
        "asyncbench.flat belongs to no stage (put it in one of " + str(sorted(ALLOWED)) + ")",
        "asyncbench.providers.x -> asyncbench.engine: providers may import only core, sources",
        "asyncbench.providers.x -> asyncbench.engine.pipeline: providers may import only "
        "core, sources",
    ]
