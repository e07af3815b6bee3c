"""The package's promises about itself: dependencies listed twice agree, the API imports no UI."""

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
