"""The project's frame: dependency lists in step, README commands, notebooks without outputs."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements):
    return {re.split(r"[<>=!~\[; ]", r.strip(), maxsplit=1)[0].lower()
            for r in requirements if r.strip() and not r.strip().startswith(("#", "-"))}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_runtime_dependencies_in_step_everywhere():
    runtime = _names(_pyproject()["project"]["dependencies"])
    assert {"torch", "torchaudio", "numpy", "soundfile", "librosa", "matplotlib", "ipywidgets",
            "tqdm"} <= runtime
    requirements = _names((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    assert requirements == runtime
    env = (ROOT / "environment.yml").read_text(encoding="utf-8")
    pip_lines = [line.strip()[2:] for line in env.splitlines() if line.strip().startswith("- ")]
    assert runtime <= _names(pip_lines), "environment.yml lacks runtime dependencies"
    assert "python=3.11" in env and "-e .[dev]" in env


def test_dev_extra_has_the_test_tools():
    dev = _names(_pyproject()["project"]["optional-dependencies"]["dev"])
    assert {"pytest", "nbmake", "jupyterlab", "ipykernel", "ruff"} <= dev


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:shell|bash|sh)?\n(.*?)```", readme, flags=re.S)
    assert blocks[0].strip() == "make demo"
    assert blocks[1].strip() == "make test"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, flags=re.M) and re.search(r"^test:", makefile, flags=re.M)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, path.name


def test_text_package_does_not_import_torch_or_numpy():
    code = ("import sys, kokoro_nb.text; p = kokoro_nb.text.RussianPhonemeProcessor(); "
            "p.process_text('проверка'); "
            "print(any(m in sys.modules for m in ('torch', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_imports_point_down_the_layers_the_readme_lists():
    """Each module imports only modules below it in the README's layout table (function-level
    imports included), so the package reads top down and never imports in a circle."""
    import ast

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| module | what it owns |"):]
    table = table[: table.index("\n\n")]
    order = re.findall(r"^\| `([a-z_/]+)(?:\.py)?` \|", table, flags=re.M)
    assert order[-1] == "text/" and "checkpoints" in order
    rank = {name.rstrip("/"): i for i, name in enumerate(order)}
    modules = {p.stem for p in (ROOT / "kokoro_nb").glob("*.py")} - {"__init__", "__main__"}
    assert modules == set(rank) - {"text"}, "every module is in the README's table"
    for name in modules:
        tree = ast.parse((ROOT / "kokoro_nb" / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                target = node.module.split(".")[0]
                assert rank[target] > rank[name], f"{name} imports {target}, which is above it"
