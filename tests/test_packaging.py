"""The package's promises about itself: dependencies listed twice agree, the API imports no UI,
no module imports another that imports it back."""

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# conda names that differ from the PyPI names
CONDA_TO_PYPI = {"pytorch": "torch"}


def _pyproject_deps():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = set()
    for spec in data["project"]["dependencies"]:
        names.add(re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower())
    return names


def _environment_deps():
    names = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        m = re.match(r"^\s*-\s+([A-Za-z0-9_.\-]+)\s*(?:[<>=].*)?$", line)
        if m and m.group(1) not in {"python", "pip"}:
            name = m.group(1).lower()
            names.add(CONDA_TO_PYPI.get(name, name))
    return names


def test_environment_yml_lists_the_same_packages_as_pyproject():
    assert _pyproject_deps() == _environment_deps()


def test_public_api_imports_no_ui_library():
    code = (
        "import sys, explorer as ex\n"
        "ex.load_model; ex.load_locus; ex.attribute; ex.call_seqlets; ex.match_motifs; ex.variant_effect\n"
        "bad = [m for m in ('panel', 'holoviews', 'bokeh', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_every_public_name_resolves():
    code = "import explorer as ex\nfor n in ex.__all__: getattr(ex, n)\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_readme_gives_the_two_commands_first():
    text = (ROOT / "README.md").read_text()
    first_blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S)[:2]
    assert [b.strip() for b in first_blocks] == ["make demo", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def _module_names() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package) for every module of ``explorer``."""
    out = {}
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, top-level and in-function imports alike.

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else
    ``pkg``. Importing ``a.b.c`` from outside the package ``a.b`` also runs ``a.b``'s
    ``__init__``, so that is an edge too.
    """
    modules = _module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix
                           for a in node.names]
            else:
                continue
            for target in targets:
                if target not in modules or target == name:
                    continue
                graph[name].add(target)
                parts = target.split(".")
                for i in range(1, len(parts)):
                    package = ".".join(parts[:i])
                    if package in modules and not (name == package or name.startswith(package + ".")):
                        graph[name].add(package)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_import_graph_sees_lazy_imports():
    graph = _import_graph()
    assert "explorer.io.registry" in graph["explorer.io.models"]
    assert "explorer.nets" in graph["explorer.io.models"]
    # an in-function import counts: explorer.io.samples imports load_model inside a function
    assert "explorer.io.models" in graph["explorer.io.samples"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back():
    """No import cycle in the package, lazy (in-function) imports included."""
    cycles = _cycles(_import_graph())
    assert not cycles, f"import cycles (each a set of modules that reach each other): {cycles}"


def test_registry_is_a_leaf_and_networks_need_only_it():
    graph = _import_graph()
    assert graph["explorer.io.registry"] == set()
    for name in ("explorer.nets.sample_cnn", "explorer.nets.bpnet"):
        assert graph[name] <= {"explorer.io.registry", "explorer.io"}, (name, graph[name])
    # the attribution layer learns structures from the registry, not from a network module
    for name, targets in graph.items():
        if name.startswith("explorer.attribution"):
            assert not targets & {"explorer.nets.sample_cnn", "explorer.nets.bpnet"}, (name, targets)


def test_layers_below_the_ui_never_import_the_public_root():
    """``explorer/__init__`` resolves its names lazily from the layers; they must not reach back up."""
    graph = _import_graph()
    layers = ("explorer.io", "explorer.nets", "explorer.attribution", "explorer.motifs",
              "explorer.variants", "explorer.plots")
    offenders = sorted(m for m, targets in graph.items()
                       if m.startswith(layers) and "explorer" in targets)
    assert not offenders, offenders
