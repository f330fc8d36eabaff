"""RetailCRM's request budget is one per API key, in redis: processes that share a key share
its 10 calls a second (and the history pull will take its turns from the same budget)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from app.devtools.simulators.retailcrm import RetailCrmSimulator
from app.devtools.simulators.server import LocalServer
from app.integrations.errors import RetryableError
from app.integrations.retailcrm.budget import RedisBudget, budget_key
from app.integrations.retailcrm.client import RetailCrmClient
from tests.integrations import records

SITE = "vitrina"


@pytest.fixture
def api_key() -> str:
    return f"key-{uuid.uuid4().hex}"  # a budget of its own: tests never flush redis here


@pytest.fixture
async def budgets(redis_url: str, api_key: str) -> AsyncIterator[list[RedisBudget]]:
    """The same API key's budget as two worker processes hold it."""
    made = [RedisBudget(redis_url, api_key, per_second=20) for _ in range(2)]
    yield made
    for budget in made:
        await budget.aclose()


async def _turns(budget: RedisBudget, count: int) -> list[float]:
    times = []
    for _ in range(count):
        await budget.acquire()
        times.append(time.monotonic())
    return times


async def test_two_processes_on_one_key_share_its_rate(budgets: list[RedisBudget]) -> None:
    started = time.monotonic()
    first, second = await asyncio.gather(*(_turns(b, 10) for b in budgets))
    turns = sorted(first + second)
    # 20 turns at 20 a second: the last one about 0.95 s after the first, whoever takes them
    assert turns[-1] - started >= 0.9
    assert sum(t - started < 0.5 for t in turns) <= 11
    assert min(first) < max(second) and min(second) < max(first)  # interleaved, not in turn


async def test_another_key_has_a_budget_of_its_own(
    budgets: list[RedisBudget], redis_url: str
) -> None:
    await _turns(budgets[0], 10)  # this key's next turn is half a second away
    other = RedisBudget(redis_url, f"key-{uuid.uuid4().hex}", per_second=20)
    started = time.monotonic()
    await other.acquire()
    await other.aclose()
    assert time.monotonic() - started < 0.2


def test_the_key_in_redis_does_not_show_the_api_key() -> None:
    key = budget_key("secret-api-key")
    assert key.startswith("vitrina:retailcrm:budget:") and "secret" not in key
    assert budget_key("secret-api-key") == key != budget_key("other-key")


async def test_redis_out_of_reach_is_retryable() -> None:
    budget = RedisBudget("redis://127.0.0.1:1/0", "k", per_second=10)
    with pytest.raises(RetryableError, match="budget unavailable"):
        await budget.acquire()
    await budget.aclose()


async def test_two_clients_on_one_budget_never_pass_retailcrm_s_limit(
    redis_url: str, api_key: str
) -> None:
    sim = RetailCrmSimulator(api_key=api_key, site=SITE, rps_limit=10)
    async with LocalServer(sim.app) as server:
        url = server.url + sim.base_path
        clients = [
            RetailCrmClient(url, api_key, SITE, budget=RedisBudget(redis_url, api_key, 9))
            for _ in range(2)
        ]
        customers = [records.customer(f"c{n}") for n in range(24)]
        started = time.monotonic()
        await asyncio.gather(*(clients[n % 2].upsert_customer(c) for n, c in enumerate(customers)))
        elapsed = time.monotonic() - started
        for client in clients:
            await client.aclose()
    assert [entry.status for entry in sim.requests] == [201] * 24  # no 503 from RetailCRM
    assert elapsed >= 23 / 9 - 0.1
    assert len(sim.state.customers) == 24
