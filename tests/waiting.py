"""Waiting for a condition, not for a guessed number of seconds."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    within: float,
    every: float = 0.01,
    what: str = "the condition",
) -> float:
    """Poll `condition` until it holds; return the seconds it took, fail after `within`."""
    started = time.monotonic()
    while not await _holds(condition):
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(every)
    return time.monotonic() - started


async def _holds(condition: Callable[[], bool | Awaitable[bool]]) -> bool:
    result = condition()
    return await result if inspect.isawaitable(result) else result
