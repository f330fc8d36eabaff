"""A quiet console: answered requests are logged at DEBUG, refused ones at INFO."""

from __future__ import annotations

import httpx
from structlog.testing import capture_logs


async def test_answered_requests_are_debug_and_refused_ones_info(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs() as logs:
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/no-such-page")).status_code == 404
    requests = [(e["log_level"], e["path"], e["status"]) for e in logs if e["event"] == "request"]
    assert requests == [("debug", "/health/live", 200), ("info", "/no-such-page", 404)]
