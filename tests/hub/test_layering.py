"""SQLAlchemy only under the store: the web app and the jobs call the store's and the hub's functions,
which answer with plain data, and import nothing of SQLAlchemy themselves — read from the source
with ``ast`` (every import, at the top, in a function or under ``TYPE_CHECKING``). And the product
imports nothing of the local sandboxes (``sandboxes/``, the ``sandboxes`` extra) when it is imported:
only ``hub/app/sandboxes.py`` imports them, inside the functions that start them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The packages that must not import SQLAlchemy.
ABOVE_THE_STORE = ("webapp", "jobs")
FORBIDDEN = "sqlalchemy"


def imported_modules(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def sqlalchemy_imports(path: Path) -> list[str]:
    """``file:line module`` for each import of SQLAlchemy in the file at ``path``."""
    where = path.relative_to(ROOT).as_posix()
    return [
        f"{where}:{line} imports {module}"
        for line, module in imported_modules(path.read_text(encoding="utf-8"), where)
        if module == FORBIDDEN or module.startswith(FORBIDDEN + ".")
    ]


def test_the_web_app_and_the_jobs_import_no_sqlalchemy() -> None:
    files = [path for package in ABOVE_THE_STORE for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 10  # the walk found the packages
    offending = [line for path in files for line in sqlalchemy_imports(path)]
    assert offending == [], "SQLAlchemy belongs under hub/store (add a query function there):\n" + "\n".join(offending)


def test_the_check_sees_every_kind_of_import() -> None:
    source = """
import sqlalchemy
import sqlalchemy.orm as orm
from sqlalchemy.exc import SQLAlchemyError
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from sqlalchemy.orm import Session
def later() -> None:
    from sqlalchemy import text
import sqlalchemy_utils
from . import sqlalchemy
"""
    modules = [module for _, module in imported_modules(source, "example.py")]
    caught = [m for m in modules if m == FORBIDDEN or m.startswith(FORBIDDEN + ".")]
    assert sorted(caught) == ["sqlalchemy", "sqlalchemy", "sqlalchemy.exc", "sqlalchemy.orm", "sqlalchemy.orm"]


# --- the sandboxes are not part of the product -----------------------------------------------------

#: The product's packages: none of them imports the local vendor stand-ins (``sandboxes/``, the
#: ``sandboxes`` extra) when it is imported.
PRODUCT = ("hub", "connectors", "mapping", "nurture", "jobs", "webapp")
SANDBOXES = "sandboxes"
#: The one module that starts them: it imports them inside its functions, when asked to.
STARTER = "hub/app/sandboxes.py"


def module_level_imports(source: str, filename: str) -> list[tuple[int, str, bool]]:
    """(line, module, in_function) for every absolute import in ``source`` that runs when it does:
    imports under ``if TYPE_CHECKING:`` (read by the type checker only) are left out."""
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child, in_function)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, in_function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module, in_function))
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(ast.parse(source, filename=filename), False)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def sandbox_imports(path: Path) -> list[str]:
    """``file:line module`` for each import of the sandboxes in the file at ``path`` that is not the
    starter's, inside one of its functions."""
    where = path.relative_to(ROOT).as_posix()
    return [
        f"{where}:{line} imports {module}"
        for line, module, in_function in module_level_imports(path.read_text(encoding="utf-8"), where)
        if (module == SANDBOXES or module.startswith(SANDBOXES + ".")) and not (in_function and where == STARTER)
    ]


def test_the_product_imports_no_sandbox() -> None:
    files = [path for package in PRODUCT for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(files) > 100  # the walk found the packages
    assert ROOT / STARTER in files
    offending = [line for path in files for line in sandbox_imports(path)]
    assert offending == [], (
        "the product must not import sandboxes/ (an extra); start them through hub.app.sandboxes:\n"
        + "\n".join(offending)
    )


def test_the_sandbox_check_sees_module_level_imports_only() -> None:
    source = """
import sandboxes
import sandboxes.salesforce as sf
from sandboxes.common import Faults
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from sandboxes.hubspot import HubSpotSandbox
else:
    from sandboxes.fhir import FhirSandbox
class Holder:
    from sandboxes.calcom import CalcomSandbox
def later() -> None:
    from sandboxes.calendly import CalendlySandbox
import sandboxes_extra
from . import sandboxes
"""
    found = [(module, in_function) for _, module, in_function in module_level_imports(source, "example.py")]
    caught = [(m, f) for m, f in found if m == SANDBOXES or m.startswith(SANDBOXES + ".")]
    assert caught == [
        ("sandboxes", False),
        ("sandboxes.salesforce", False),
        ("sandboxes.common", False),
        ("sandboxes.fhir", False),
        ("sandboxes.calcom", False),
        ("sandboxes.calendly", True),
    ]


def test_without_the_extra_the_product_imports_and_the_sandbox_command_names_the_extra(tmp_path: Path) -> None:
    # Neither the sandboxes nor trustme importable: the install without the `sandboxes` extra.
    code = (
        "import sys\n"
        "sys.modules['sandboxes'] = None\n"
        "sys.modules['trustme'] = None\n"
        "import hub.app.bootstrap, hub.app.sandboxes, jobs.cli, webapp\n"
        "sys.exit(jobs.cli.main(['sandbox', '--memory']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "pip install 'nurturehub[sandboxes]'" in lines[0]
