"""The architecture holds: imports run one way down the pipeline, and code fits on a screen.

The import contracts are in pyproject.toml ([tool.importlinter]) and checked by
import-linter; a second test shows that the check fails when a lower stage imports
a higher one, so that a passing run means something.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "allocator"
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """lint-imports on the package under ``root`` with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
               "sys.exit(c())", "--config", str(root / "pyproject.toml"), "--no-cache"]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


@pytest.mark.parametrize(("module", "bad_import", "contract"), [
    ("measures/inequality.py", "from allocator.format import gbp", "Measures import nothing else"),
    ("scenario/checks.py", "from allocator.analysis import pipeline", "The pipeline runs one way"),
    ("model/lp.py", "from allocator.reports import outputs", "The pipeline runs one way"),
    ("scenario/checks.py", "from allocator.scenario import loader", "No import circles"),
])
def test_a_lower_stage_importing_a_higher_one_breaks_the_contract(tmp_path, module, bad_import, contract):
    shutil.copytree(PACKAGE, tmp_path / "allocator", ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "allocator" / module
    target.write_text(target.read_text() + f"\n{bad_import}  # noqa: E402\n")
    run = _lint_imports(tmp_path)
    assert run.returncode != 0
    broken = run.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, run.stdout


def _python_files():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_is_longer_than_a_few_hundred_lines():
    long = {str(p.relative_to(ROOT)): n for p in _python_files()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_every_function_fits_on_a_screen():
    long = {}
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert long == {}


def test_only_the_command_line_imports_click():
    importers = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "click" or n.startswith("click.") for n in names):
                importers.append(str(path.relative_to(PACKAGE)))
    assert {path.split("/")[0] for path in importers} == {"cli"}  # the allocator.cli package alone


def test_only_the_web_app_imports_streamlit():
    importers = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                importers.append(str(path.relative_to(PACKAGE)))
    assert importers and {path.split("/")[0] for path in importers} == {"app"}  # the allocator.app package alone


def test_import_allocator_loads_no_solver_or_dataframe_library():
    code = ("import sys, allocator; heavy = sorted(m for m in ('pandas', 'numpy', 'highspy', 'scipy', "
            "'matplotlib', 'pulp') if m in sys.modules); print(','.join(heavy))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""


def test_every_file_of_the_package_ships():
    """Every data file under allocator/ is matched by a package-data pattern of its package (the
    nearest folder with a Python name), so the wheel carries it; packages are found, not listed."""
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["packages"]["find"]["include"] == ["allocator", "allocator.*"]
    patterns = config["package-data"]
    missing = []
    for path in PACKAGE.rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        parts = path.relative_to(PACKAGE).parts
        depth = max(k for k in range(len(parts)) if all(p.isidentifier() for p in parts[:k]))
        package = ".".join(("allocator", *parts[:depth]))
        rest = "/".join(parts[depth:])
        if not any(fnmatch.fnmatch(rest, pattern) for pattern in patterns.get(package, [])):
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []
    assert (ROOT / "scenarios").resolve() == PACKAGE / "bundled" / "scenarios"  # the link at the top


def test_the_command_line_answers_help_without_numpy_pandas_or_a_solver():
    code = ("import sys, allocator.cli; heavy = sorted(m for m in ('pandas', 'numpy', 'highspy', 'scipy', "
            "'matplotlib', 'pulp', 'openpyxl') if m in sys.modules); print(','.join(heavy))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""


def test_every_highs_instance_is_made_quiet():
    """HiGHS prints a banner to fd 1 from the first instance in a process: every instance comes from
    `allocator.model.highs.new_highs`, which silences it."""
    makers = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Highs"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "highspy"):
                makers.append(str(path.relative_to(PACKAGE)))
    assert set(makers) == {"model/highs.py"}


def test_a_proportional_run_prints_nothing_through_the_api():
    """Proportional mode's planes were the first HiGHS of a process, and leaked the banner."""
    code = ("import allocator; s = allocator.load('scenarios/quickstart'); "
            "allocator.run(s.with_(proportionality='proportional'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
