"""SQLAlchemy only under the store: the web app and the jobs call the store's and the hub's functions,
which answer with plain data, and import nothing of SQLAlchemy themselves — read from the source
with ``ast`` (every import, at the top, in a function or under ``TYPE_CHECKING``)."""

from __future__ import annotations

import ast
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
