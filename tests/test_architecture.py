"""The package's layers, read from its own imports (``ast``; nothing is imported or run).

Lowest first, each layer imports only from layers below it (or from inside itself)::

    0 utilities   errors and _version; then _threads, batch, datasets
    1 spec        the formula and residual= objects
    2 covariance  covariance structures
    3 design      model frame, X, random-effect terms
    4 results     components, shares (ICC, R², pooling), the Fit base, draws, R printing
    5 engines     reml, ols, bayes — never one another
    6 model       MixedModel: one specification, every engine; then restore (bm.load)
    7 quantities  what combines or refits fits
    8 views       plots and the report
    9 cli         the command line; the package's __init__ (its public face) may import any

Every import counts, at module level or inside a function (a lazy import is still an
arrow); only imports under ``if TYPE_CHECKING:`` (never executed) are left out. No cycle is
allowed between modules either, lazy imports included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "bayesmixed"

LAYERS: dict[str, float] = {
    "errors": 0,
    "_version": 0,
    "_threads": 0.5,
    "batch": 0.5,
    "datasets": 0.5,
    "spec": 1,
    "covariance": 2,
    "design": 3,
    "results": 4,
    "reml": 5,
    "ols": 5,
    "bayes": 5,
    "model": 6,
    "restore": 6.5,
    "loading": 6.5,
    "quantities": 7,
    "views": 8,
    "cli": 9,
    "__main__": 9.5,  # python -m bayesmixed: the entry point above the command it runs
    "__init__": 10,
}
ENGINES = {"reml", "ols", "bayes"}
MAX_LINES = 400
# the numba kernels are one compiled unit: splitting them would change the cached layout
LONG_FILES_ALLOWED = {"bayes/marginal/_kernels.py"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(PKG).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["bayesmixed", *parts])] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported bayesmixed module, line) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skip.update(id(n) for n in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "bayesmixed":
                    found.append((a.name, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "bayesmixed":
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.append((sub if sub in MODULES else target, node.lineno))
    return found


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(module: str) -> float:
    area = _area(module)
    if area not in LAYERS:
        raise AssertionError(
            f"{module}: its area {area!r} has no layer in tests/test_architecture.py"
        )
    return LAYERS[area]


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_area_has_a_layer():
    for m in MODULES:
        _layer(m)


def test_layers_import_only_downwards():
    bad = []
    for m, deps in GRAPH.items():
        for dep, line in deps:
            if dep not in MODULES or _area(dep) == _area(m):
                continue
            if _layer(dep) >= _layer(m) and _area(m) != "__init__":
                bad.append(
                    f"{MODULES[m].relative_to(PKG.parent)}:{line}: {m} -> {dep} "
                    f"(layer {_layer(m)} imports layer {_layer(dep)})"
                )
    assert not bad, "imports that run up or sideways:\n" + "\n".join(bad)


def test_engines_never_import_each_other_or_views():
    bad = []
    for m, deps in GRAPH.items():
        if _area(m) not in ENGINES:
            continue
        for dep, line in deps:
            if (
                dep in MODULES
                and _area(dep) != _area(m)
                and (_area(dep) in ENGINES or _area(dep) == "views")
            ):
                bad.append(f"{MODULES[m].relative_to(PKG.parent)}:{line}: {m} -> {dep}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    edges = {m: {d for d, _ in deps if d in MODULES and d != m} for m, deps in GRAPH.items()}
    # a package's __init__ re-exporting its own modules is not a cycle with them
    for m in list(edges):
        edges[m] = {
            d for d in edges[m] if not (m.startswith(d + ".") and MODULES[d].name == "__init__.py")
        }
    color: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(u: str) -> None:
        color[u] = 1
        stack.append(u)
        for v in sorted(edges[u]):
            if color.get(v, 0) == 0:
                visit(v)
            elif color[v] == 1:
                cycles.append(stack[stack.index(v) :] + [v])
        stack.pop()
        color[u] = 2

    for m in sorted(edges):
        if color.get(m, 0) == 0:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small(module):
    path = MODULES[module]
    rel = path.relative_to(PKG).as_posix()
    n = len(path.read_text(encoding="utf-8").splitlines())
    if rel in LONG_FILES_ALLOWED:
        return
    assert n <= MAX_LINES, f"{rel} has {n} lines (at most {MAX_LINES}): split it by concept"


def test_the_checker_sees_a_violation(tmp_path):
    """The rule is not vacuous: an engine importing a view is reported."""
    fake = "bayesmixed.reml.fake"
    MODULES[fake] = tmp_path / "fake.py"
    MODULES[fake].write_text("def f():\n    from ..views import plots\n")
    try:
        deps = _imports(fake, MODULES[fake])
        assert deps == [("bayesmixed.views.plots", 2)]
        assert _layer(deps[0][0]) > _layer(fake)
    finally:
        del MODULES[fake]
