"""app/domain imports nothing from frameworks or I/O libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import app.domain

FORBIDDEN = {
    "tortoise",
    "strawberry",
    "starlette",
    "arq",
    "redis",
    "httpx",
    "uvicorn",
    "asyncpg",
    "aiosqlite",
    "graphql",
    "structlog",
    "app.models",
    "app.services",
    "app.schema",
    "app.workers",
    "app.integrations",
    "socket",
    "sqlite3",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_modules_import_no_framework_or_io() -> None:
    folder = Path(app.domain.__file__).parent
    offenders = {
        f"{path.name}: {name}"
        for path in folder.glob("*.py")
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }
    assert offenders == set()
