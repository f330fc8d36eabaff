"""app/domain imports nothing from frameworks, I/O libraries or the app's configuration."""

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
    "pydantic",
    "pydantic_settings",
    "app.models",
    "app.services",
    "app.schema",
    "app.workers",
    "app.integrations",
    "app.settings",  # rules take their figures as arguments (CONVENTIONS: passed in)
    "socket",
    "sqlite3",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)  # `from app import settings` names app.settings as well
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_domain_modules_import_no_framework_or_io() -> None:
    folder = Path(app.domain.__file__).parent
    offenders = {
        f"{path.name}: {name}"
        for path in folder.rglob("*.py")
        for name in _imports(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }
    assert offenders == set()


def test_the_scan_sees_each_way_of_naming_a_forbidden_module(tmp_path: Path) -> None:
    module = tmp_path / "rule.py"
    module.write_text("import pydantic\nfrom app import settings\nfrom app.settings import X\n")
    assert _imports(module) == {"pydantic", "app", "app.settings", "app.settings.X"}
