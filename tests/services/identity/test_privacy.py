"""A customer's copy of their data, and erasure: personal data gone everywhere we hold it,
the accounting facts kept, 1C and RetailCRM told, sessions ended."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventKind, Target
from app.models.customers import Customer, CustomerSession
from app.models.identity import ChannelPurchase, IdentityRecord
from app.models.orders import Order
from app.models.outbox import OutboxEvent
from app.services.identity.privacy import erase_customer, export_data
from tests.services.identity.helpers import (
    BOOTS_38,
    DRESS_M,
    NOW,
    catalog,
    link_card_to,
    shop_purchase,
    site_order,
)

pytestmark = pytest.mark.usefixtures("db")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def _ann_with_a_shop_purchase() -> Order:
    await catalog()
    order = await site_order("ann@shop.ru", DRESS_M)
    await shop_purchase("5001", BOOTS_38, ref="r-1", email="ann@shop.ru")
    await link_card_to("ann@shop.ru", "5001")
    return order


async def test_the_export_holds_the_account_orders_and_what_other_sources_said(
    redis: Redis,
) -> None:
    order = await _ann_with_a_shop_purchase()

    document = await export_data(redis=redis, customer_id=order.customer_id or 0, now=NOW)

    assert document["account"]["email"] == "ann@shop.ru"
    assert [o["number"] for o in document["orders"]] == [order.number]
    assert [p["ref"] for p in document["purchases"]] == ["r-1"]
    assert sorted(r["source"] for r in document["sourceRecords"]) == ["onec", "shop_till", "site"]
    assert document["truncated"] is False


async def test_a_second_export_within_a_minute_is_refused(redis: Redis) -> None:
    order = await _ann_with_a_shop_purchase()
    await export_data(redis=redis, customer_id=order.customer_id or 0, now=NOW)

    with pytest.raises(DomainError) as error:
        await export_data(redis=redis, customer_id=order.customer_id or 0, now=NOW)

    assert error.value.code is ErrorCode.TOO_MANY_ATTEMPTS


async def test_erasure_anonymises_keeps_the_facts_and_tells_both_systems(redis: Redis) -> None:
    order = await _ann_with_a_shop_purchase()
    customer_id = order.customer_id or 0
    await CustomerSession.create(
        customer_id=customer_id,
        refresh_hash="h" * 64,
        user_agent="Firefox",
        ip="10.0.0.1",
        created_at=NOW,
        last_used_at=NOW,
        expires_at=NOW,
    )

    events = await erase_customer(
        redis=redis, customer_id=customer_id, text_version="pd-2025-09", device="Firefox", now=NOW
    )

    customer = await Customer.get(id=customer_id)
    assert (customer.email, customer.phone, customer.first_name, customer.password_hash) == (
        None,
        None,
        "",
        None,
    )
    kept = await Order.get(id=order.id)
    assert (kept.email, kept.first_name, kept.delivery_address) == (None, "", "")
    assert (kept.total, kept.number, kept.status) == (order.total, order.number, order.status)
    records = await IdentityRecord.all()
    assert {(r.email, r.email_raw, r.loyalty_card, r.name) for r in records} == {
        (None, None, None, None)
    }
    assert all(r.erased_at == NOW for r in records)
    assert await ChannelPurchase.all().count() == 1
    session = await CustomerSession.get(customer_id=customer_id)
    assert (session.revoked_at, session.ip) == (NOW, "")
    erased = [(e.target, e.kind) for e in events if e.kind is EventKind.CUSTOMER_ERASED]
    assert erased == [
        (Target.ONEC, EventKind.CUSTOMER_ERASED),
        (Target.RETAILCRM, EventKind.CUSTOMER_ERASED),
    ]
    payload = (await OutboxEvent.filter(kind=EventKind.CUSTOMER_ERASED).first()).payload  # type: ignore[union-attr]
    assert payload["ids"]["customer_guid"] == customer.guid
    assert payload["ids"]["onec_guids"] == ["cp-5001"]
    upserts = await OutboxEvent.filter(kind=EventKind.CUSTOMER_UPSERTED)
    assert all(e.payload["email"] is None for e in upserts)
    till = await IdentityRecord.get(source="shop_till")
    assert till.external_id == f"erased:{till.id}"


async def test_a_system_still_sending_an_erased_person_changes_nothing(redis: Redis) -> None:
    order = await _ann_with_a_shop_purchase()
    await erase_customer(
        redis=redis, customer_id=order.customer_id or 0, text_version="v", device="", now=NOW
    )

    await link_card_to("ann@shop.ru", "5001")  # 1C's counterparty arrives again as it was

    onec = await IdentityRecord.get(source="onec")
    assert (onec.email, onec.loyalty_card, onec.erased_at) == (None, None, NOW)
