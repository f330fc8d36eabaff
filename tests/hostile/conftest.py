"""The app as production runs it (errors masked, introspection off), for hostile requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.conftest import Clock


@pytest.fixture
async def prod_client(
    db: str, tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        environment="prod",
        # every layer under test, not only the trusted-documents gate in front of them
        trusted_documents="permissive",
        data_dir=tmp_path,
        database_url=database_url,
        password_time_cost=1,
        password_memory_kib=64,
        # configured but never reached: a hostile notification must be refused before any call
        yookassa_url="http://127.0.0.1:9/v3/",
        yookassa_shop_id="123456",
        yookassa_secret_key="test_secret",
        yookassa_notification_ips=[],
    )
    app = create_app(settings, redis_url=redis_url, manage_db=False, clock=Clock())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield c
