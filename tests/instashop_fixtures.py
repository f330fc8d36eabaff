"""Instashop's test stand: the Instagram simulator over real HTTP, our client, a media store.

Imported by the conftest of each Instashop test package (fixtures are found where imported).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.devtools.simulators.instagram import InstagramSimulator
from app.devtools.simulators.server import LocalServer
from app.integrations.instagram.client import InstagramClient
from app.services.instashop.account import InstashopConfig
from app.services.instashop.store import FileStore
from tests.conftest import Clock
from tests.integrations.stands import Front

TOKEN = "IGAA-test-token"
TOKEN_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
async def ig_stand() -> AsyncIterator[tuple[LocalServer, Front]]:
    front = Front()
    async with LocalServer(front) as server:
        yield server, front


@pytest.fixture
def ig_sim(ig_stand: tuple[LocalServer, Front], clock: Clock) -> InstagramSimulator:
    """A fresh account on the stand; its clock is the test's (tokens age, links expire)."""
    simulator = InstagramSimulator(
        TOKEN, clock=lambda: clock.now.timestamp(), image_size=(400, 500), media_ttl=3600
    )
    ig_stand[1].app = simulator.app
    return simulator


@pytest.fixture
async def instagram(ig_stand: tuple[LocalServer, Front]) -> AsyncIterator[InstagramClient]:
    async with InstagramClient(ig_stand[0].url, timeout=5.0) as client:
        yield client


@pytest.fixture
def media_store(tmp_path: Path) -> FileStore:
    """Where the app serves /media/ from (DATA_DIR/media of the `settings` fixture)."""
    return FileStore(tmp_path / "media")


@pytest.fixture
def ig_config() -> InstashopConfig:
    return InstashopConfig(user_id="me", initial_token=TOKEN, token_key=TOKEN_KEY, page_size=25)
