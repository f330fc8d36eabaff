"""Small validators for simulated request bodies: each raises Invalid with a field path."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

Check = Callable[[Any, str], None]  # (value, path) -> None or raise Invalid

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MONEY = re.compile(r"^\d{1,12}\.\d{2}$")


class Invalid(Exception):
    """One thing wrong with a request body, at `path` (dotted, e.g. `lines.0.price`)."""

    def __init__(self, path: str, message: str, code: str = "INVALID") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.code = code


def join(path: str, name: str | int) -> str:
    return f"{path}.{name}" if path else str(name)


def shape(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    """An object with these fields (others are ignored, as real services do)."""

    def check(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise Invalid(path, "must be an object")
        for name, field_check in required.items():
            if name not in value:
                raise Invalid(join(path, name), "is required")
            field_check(value[name], join(path, name))
        for name, field_check in (optional or {}).items():
            if name in value:
                field_check(value[name], join(path, name))

    return check


def list_of(item: Check, min_items: int = 0) -> Check:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise Invalid(path, "must be a list")
        if len(value) < min_items:
            raise Invalid(path, f"needs at least {min_items} item(s)")
        for index, element in enumerate(value):
            item(element, join(path, index))

    return check


def nullable(inner: Check) -> Check:
    def check(value: Any, path: str) -> None:
        if value is not None:
            inner(value, path)

    return check


def one_of(allowed: Collection[str]) -> Check:
    def check(value: Any, path: str) -> None:
        if value not in allowed:
            raise Invalid(path, f"unknown code {value!r}")

    return check


def text(value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise Invalid(path, "must be a string")


def filled(value: Any, path: str) -> None:
    text(value, path)
    if not value.strip():
        raise Invalid(path, "must not be empty")


def guid(value: Any, path: str) -> None:
    if not isinstance(value, str) or not GUID.match(value):
        raise Invalid(path, f"not a GUID: {value!r}", "INVALID_GUID")


def money(value: Any, path: str) -> None:
    """A decimal string of roubles with two decimals, e.g. "4990.00"."""
    if not isinstance(value, str) or not MONEY.match(value):
        raise Invalid(path, f"not a decimal amount: {value!r}", "INVALID_PRICE")


def number(value: Any, path: str) -> None:
    """A JSON number ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise Invalid(path, f"must be a number ≥ 0: {value!r}")


def positive_int(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Invalid(path, f"must be an integer > 0: {value!r}")


def moment(value: Any, path: str) -> None:
    """ISO 8601 with an offset."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise Invalid(path, f"not ISO 8601 with an offset: {value!r}", "INVALID_DATETIME")


def local_datetime(value: Any, path: str) -> None:
    """RetailCRM's `Y-m-d H:i:s`."""
    try:
        ok = isinstance(value, str) and len(value) == 19
        ok = ok and bool(datetime.strptime(value, "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        ok = False
    if not ok:
        raise Invalid(path, f"must be Y-m-d H:i:s: {value!r}")


def string_map(value: Any, path: str) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise Invalid(path, "must be an object of strings")
