"""Structured logs (structlog over stdlib logging) with the request id bound per request.

Every line is bounded: whatever a caller sends (a 10 MB slug, a huge exception message), no
value takes more than MAX_VALUE_CHARS and a traceback keeps its frames but not the flood.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

MAX_VALUE_CHARS = 2000
MAX_TRACEBACK_LINE_CHARS = 500
MAX_TRACEBACK_CHARS = 20_000


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def clip_values(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A processor (after `format_exc_info`): bound every value of a log line."""
    for key, value in event_dict.items():
        if key == "exception" and isinstance(value, str):
            event_dict[key] = clip_traceback(value)
        elif isinstance(value, str):
            event_dict[key] = clip(value, MAX_VALUE_CHARS)
        elif isinstance(value, list | tuple | dict | set):
            text = repr(value)
            if len(text) > MAX_VALUE_CHARS:
                event_dict[key] = clip(text, MAX_VALUE_CHARS)
    return event_dict


def clip_traceback(text: str) -> str:
    """Each line cut to MAX_TRACEBACK_LINE_CHARS; past MAX_TRACEBACK_CHARS, the outermost and
    innermost frames are kept (the middle of a deep recursion says nothing new)."""
    lines = [clip(line, MAX_TRACEBACK_LINE_CHARS) for line in text.splitlines()]
    clipped = "\n".join(lines)
    if len(clipped) <= MAX_TRACEBACK_CHARS:
        return clipped
    half = MAX_TRACEBACK_CHARS // 2
    return (
        f"{clipped[:half]}\n… ({len(clipped) - 2 * half} characters left out) …\n{clipped[-half:]}"
    )


def configure_logging(*, level: str = "INFO", json: bool = False) -> None:
    """Route stdlib and structlog records through one renderer (JSON in prod, console in dev)."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # plain tracebacks for both renderers: the console's rich ones print every
                # local variable (an attacker's 10 MB string, slowly) and JSON would print none
                structlog.processors.format_exc_info,
                clip_values,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    set_library_levels(root.level)


def set_library_levels(level: int) -> None:
    """Keep the libraries' routine lines out of the console at `level` (the root's level)."""
    for noisy in ("tortoise", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, level))
    # arq writes two INFO lines for every job, several a second from the per-second outbox
    # sweeps. Our jobs log what they did; arq keeps its warnings and failures (DEBUG: all).
    logging.getLogger("arq.worker").setLevel(logging.WARNING if level > logging.DEBUG else level)
