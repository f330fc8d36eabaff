"""`vitrina shop-requests` as an operator runs it: a process per command on a fresh SQLite data
directory (forked with the startup imports done, tests/warm.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import factories
from tests.conftest import Vitrina, cli_env, copy_sqlite
from tests.warm import WarmPython

# Real time, as the command reads it: two orders two hours ago (shop A confirms one after 3
# minutes and declines the other after 5, which moves it to shop B), one nine days ago.
SEED = """
import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from app.db import close_db, init_db
from app.domain.shop_confirmation import DeclineReason
from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
from app.models.orders import Order
from app.models.shops import ShopRequest, ShopRequestLine
from app.services.jobs import NoQueue
from app.services.payments import start as payments
from app.services.shops import deciding
from app.settings import Settings
from tests import factories
from tests.services.shops.test_shop_confirmation import DRESS, RULES, FakeSlack, _click, _send_slack


async def paid_order(at: datetime) -> Order:
    cart = await factories.cart_with([(DRESS, 1)], now=at)
    order = (await factories.place(cart, now=at)).order
    await payments.pay_order(
        order_token=order.token, idempotency_key=f"pay-{uuid.uuid4()}", provider=DummyProvider(),
        card_number=SUCCEEDS, return_url="https://shop.example/", jobs=NoQueue(), now=at,
    )
    return order


async def answer(order: Order, kind: str, reason: DeclineReason | None, at: datetime) -> None:
    request = await ShopRequest.get(order_id=order.id)
    line = await ShopRequestLine.get(request_id=request.id)
    await deciding.handle_click(_click(line, request, kind, reason), rules=RULES, now=at)


async def seed() -> None:
    await init_db(Settings().resolved_database_url)
    await factories.warehouses()
    await factories.upsert_shop_b_channel()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    await factories.stock(DRESS, factories.SHOP_A, 3)
    await factories.stock(DRESS, factories.SHOP_B, 1)
    slack = FakeSlack()
    old = datetime.now(UTC) - timedelta(days=9)
    ancient = await paid_order(old)
    await _send_slack(slack, old)
    await answer(ancient, "confirm", None, old + timedelta(minutes=1))
    recent = datetime.now(UTC) - timedelta(hours=2)
    kept, declined = await paid_order(recent), await paid_order(recent)
    await _send_slack(slack, recent)
    await answer(kept, "confirm", None, recent + timedelta(minutes=3))
    await answer(declined, "decline", DeclineReason.NOT_FOUND, recent + timedelta(minutes=5))
    await _send_slack(slack, recent + timedelta(minutes=5))
    await close_db()


asyncio.run(seed())
"""


@pytest.fixture(scope="module")
def seeded_sqlite(migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three shop-served orders in a migrated database, made once for these tests."""
    data_dir = tmp_path_factory.mktemp("shop-requests-seeded")
    copy_sqlite(migrated_sqlite, data_dir)
    seeded = subprocess.run(
        [sys.executable, "-c", SEED],
        env=cli_env(data_dir),
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr
    return data_dir / migrated_sqlite.name


@pytest.fixture
def vitrina(seeded_sqlite: Path, tmp_path: Path, warm_python: WarmPython) -> Vitrina:
    """An operator's data directory holding its own copy of the seeded database."""
    copy_sqlite(seeded_sqlite, tmp_path)
    return Vitrina(warm_python, cli_env(tmp_path))


def _row(lines: list[str], start: str) -> list[str]:
    return next(line for line in lines if line.startswith(start)).split()


def test_it_prints_each_shops_figures_then_the_requests_of_the_last_week(
    vitrina: Vitrina,
) -> None:
    listed = vitrina("shop-requests")

    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("shops, requests made since ")
    assert lines[1].split()[:5] == ["shop", "requests", "lines", "confirmed", "declined"]
    # requests lines confirmed declined timed-out not-shown withdrawn waiting median declines
    # timeouts open-now code reasons
    assert _row(lines, "Shop A ")[2:] == [
        *("2", "2", "1", "1", "0", "0", "0", "0", "4:00", "50%", "0%", "0"),
        factories.SHOP_A,
        "not_found",
        "1",
    ]
    assert _row(lines, "Shop B ")[2:] == [
        *("1", "1", "0", "0", "0", "0", "0", "1", "-", "-", "-", "1"),
        factories.SHOP_B,
    ]
    start = lines.index("requests, newest first:")
    shops = [line.split()[3:5] for line in lines[start + 2 :] if not line.startswith(" ")]
    assert shops == [["Shop", "B"], ["Shop", "A"], ["Shop", "A"]]  # not the one 9 days ago
    decided = [line.split() for line in lines[start + 2 :] if line.startswith("    ")]
    assert [d[:3] for d in decided] == [
        ["Dress-M-black", "×1", "requested"],
        ["Dress-M-black", "×1", "declined"],
        ["Dress-M-black", "×1", "confirmed"],
    ]
    assert decided[1][3:5] == ["by", "u0anna"] and decided[1][-1] == "(not_found)"


def test_it_filters_by_state_shop_and_period(vitrina: Vitrina) -> None:
    waiting = vitrina("shop-requests", "--state", "open")
    assert waiting.returncode == 0, waiting.stderr
    lines = waiting.stdout.splitlines()
    start = lines.index("open requests, newest first:")
    assert [line.split()[3:6] for line in lines[start + 2 :] if not line.startswith(" ")] == [
        ["Shop", "B", "open"]
    ]

    month = vitrina("shop-requests", "--shop", factories.SHOP_A, "--since", "30d")
    assert month.returncode == 0, month.stderr
    lines = month.stdout.splitlines()
    assert _row(lines, "Shop A ")[2:5] == ["3", "3", "2"]
    assert not any(line.startswith("Shop B") for line in lines)

    latest = vitrina("shop-requests", "--limit", "1")
    assert latest.returncode == 0, latest.stderr
    lines = latest.stdout.splitlines()
    assert len(lines) - lines.index("requests, newest first:") == 5  # header, a request, its line
    assert lines[-1].startswith("… and older ones (--limit up to 200")

    posting = vitrina("shop-requests", "--state", "posting", "--since", "90m")
    assert posting.stdout.splitlines()[-1] == "no posting requests"


def test_a_bad_shop_limit_or_period_is_refused(vitrina: Vitrina) -> None:
    unknown = vitrina("shop-requests", "--shop", factories.guid("nowhere"))
    assert unknown.returncode == 1 and "no warehouse" in unknown.stderr
    too_many = vitrina("shop-requests", "--limit", "500")
    assert too_many.returncode == 1 and "a page holds 1..200 requests" in too_many.stderr
    for period in ("7", "7w", "0d", "3651d", "9999999999d"):
        bad = vitrina("shop-requests", "--since", period)
        assert bad.returncode == 2 and "--since" in bad.stderr, period
