"""Erasure reaches every copy we hold: the till's view on shop receipts, our outbox copies of
what 1C, RetailCRM and the payment provider were told (pending and delivered), and the messages
queued or kept for the customer. A scan of every text column then finds none of their data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from tortoise import Tortoise, fields
from tortoise.transactions import in_transaction

from app.domain.closing_receipt import ClosingReceiptRecord
from app.domain.erasure import ERASED
from app.domain.outbound import MessageChannel
from app.domain.outbox import EventKind, EventState, RetryPolicy, Target
from app.domain.shop_sales import RawReceipt, RawReceiptLine
from app.models.channels import ShopReceipt, ShopReceiptLine
from app.models.customers import Customer
from app.models.identity import IdentityRecord
from app.models.orders import Order
from app.models.outbox import OutboxEvent
from app.models.sql import is_postgres
from app.services.accounts.messages import record_message
from app.services.channels.shop_sales import record_shop_sales
from app.services.identity.erasure import NOT_SENT
from app.services.identity.observe import observe_site_customer
from app.services.identity.privacy import erase_customer
from app.services.outbox.delivery import Senders, deliver_aggregate
from app.services.outbox.record import customer_record, order_record, record_event, write_event
from tests import factories
from tests.services.identity.helpers import DRESS_M, NOW, catalog, site_order

pytestmark = pytest.mark.usefixtures("db")
EMAIL = "annushka.smirnova@mail.ru"
PHONE = "+79161234567"
TILL_PHONE = "8 916 123-45-67"  # as the till's cashier typed it
# what must be found nowhere: the e-mail, the phone in both spellings, the names
NEEDLES = ("annushka.smirnova", "9161234567", "123-45-67", "annushka", "smirnova")
RECEIPT = factories.guid("receipt/ann-boots")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def _ann_everywhere() -> Customer:
    """Ann's account (phone verified by SMS), a site order, a till receipt with her phone, our
    outbox copies of her and her order (one delivered) and its registered closing receipt,
    and two messages (one sent)."""
    await catalog()
    order = await site_order(EMAIL, DRESS_M)
    names = {"first_name": "Annushka", "last_name": "Smirnova"}
    await Customer.filter(id=order.customer_id).update(
        **names, phone=PHONE, phone_raw=TILL_PHONE, phone_verified_at=NOW
    )
    await Order.filter(id=order.id).update(**names, phone=PHONE, phone_raw=TILL_PHONE)
    customer = await Customer.get(id=order.customer_id)
    order = await Order.get(id=order.id)
    async with in_transaction() as conn:
        await observe_site_customer(conn, customer=customer, now=NOW, actor="test")
    sale = RawReceipt(
        guid=RECEIPT,
        shop_guid=factories.SHOP_A,
        sold_at="2026-11-30T10:00:00+03:00",
        lines=[RawReceiptLine(DRESS_M, 1, "4990.00", "0")],
        phone=TILL_PHONE,
        email=EMAIL,
    )
    await record_shop_sales(receipts=[sale], max_receipts=10, max_lines=10, now=NOW)
    async with in_transaction():
        await record_event(
            kind=EventKind.CUSTOMER_UPSERTED, record=customer_record(customer), now=NOW
        )
        placed = await record_event(
            kind=EventKind.ORDER_PLACED, record=await order_record(order, customer), now=NOW
        )
        await record_message(
            channel=MessageChannel.SMS,
            to=PHONE,
            template="order_cancelled",
            params={"number": order.number, "reason": "Annushka Smirnova asked to cancel"},
            now=NOW,
        )
        receipt = ClosingReceiptRecord(order.guid, "pay-1", "yookassa", "yk-1", EMAIL, PHONE)
        closing = await write_event(
            Target.RECEIPTS, f"order:{order.guid}", EventKind.CLOSING_RECEIPT, receipt, NOW
        )
        sent = await record_message(
            channel=MessageChannel.EMAIL, to=EMAIL, template="signup_code", params={}, now=NOW
        )
    await OutboxEvent.filter(id__in=[placed[0].id, sent.id, closing.id]).update(
        state=EventState.DELIVERED, delivered_at=NOW, response_body=f'{{"echo": "{EMAIL}"}}'
    )
    return customer


async def _hits() -> list[tuple[str, str, str]]:
    """(table, column, needle) for every text column of every table holding a needle."""
    conn = Tortoise.get_connection("default")
    mark = "$1" if is_postgres(conn) else "?"
    found = []
    for model in Tortoise.apps["models"].values():
        table = model._meta.db_table
        for name, field in model._meta.fields_map.items():
            if not isinstance(field, fields.CharField | fields.TextField | fields.JSONField):
                continue
            column = model._meta.fields_db_projection[name]
            for needle in NEEDLES:
                rows = await conn.execute_query_dict(
                    f'SELECT COUNT(*) AS n FROM "{table}"'
                    f' WHERE lower(CAST("{column}" AS TEXT)) LIKE {mark}',
                    [f"%{needle}%"],
                )
                if rows[0]["n"]:
                    found.append((table, column, needle))
    return found


async def test_after_erasure_no_text_column_holds_the_customers_data(redis: Redis) -> None:
    customer = await _ann_everywhere()
    assert {t for t, _, _ in await _hits()} >= {"customer", "shop_receipt", "outbox_event"}

    await erase_customer(
        redis=redis, customer_id=customer.id, text_version="pd-2025-09", device="", now=NOW
    )

    assert await _hits() == []


async def test_the_receipt_keeps_its_facts_and_loses_the_tills_view(redis: Redis) -> None:
    customer = await _ann_everywhere()
    before = await ShopReceipt.get(guid=RECEIPT)

    await erase_customer(redis=redis, customer_id=customer.id, text_version="v", device="", now=NOW)

    after = await ShopReceipt.get(guid=RECEIPT)
    assert (after.phone, after.email, after.loyalty_card) == (None, None, None)
    assert after.customer_key == f"erased:{before.identity_record_id}"
    assert (after.guid, after.total, after.sold_at, after.shop_id) == (
        before.guid,
        before.total,
        before.sold_at,
        before.shop_id,
    )
    assert await ShopReceiptLine.filter(receipt_id=after.id).count() == 1
    till = await IdentityRecord.get(id=before.identity_record_id)
    assert till.external_id == after.customer_key


async def test_a_pending_event_delivers_anonymised_data_and_a_message_is_never_sent(
    redis: Redis,
) -> None:
    customer = await _ann_everywhere()
    order = await Order.get(customer_id=customer.id)

    await erase_customer(redis=redis, customer_id=customer.id, text_version="v", device="", now=NOW)

    pending = await OutboxEvent.filter(
        aggregate=f"order:{order.guid}", kind=EventKind.ORDER_PLACED, target=Target.RETAILCRM
    ).order_by("-id")
    assert pending[0].state is EventState.PENDING
    assert pending[0].payload["customer"]["guid"] == customer.guid
    assert {k: pending[0].payload["customer"][k] for k in ("email", "phone", "first_name")} == {
        "email": None,
        "phone": None,
        "first_name": "",
    }
    assert pending[0].payload["total_kopecks"] == order.total
    assert [line["quantity"] for line in pending[0].payload["lines"]] == [1]
    messages = await OutboxEvent.filter(kind=EventKind.CUSTOMER_MESSAGE).order_by("id")
    assert [(m.state, m.payload["to"], m.last_error) for m in messages] == [
        (EventState.DEAD, "", NOT_SENT),
        (EventState.DELIVERED, "", ""),
    ]
    assert messages[0].payload["params"] == {"number": ERASED, "reason": ERASED}
    assert messages[0].payload["template"] == "order_cancelled"


async def test_another_customers_data_stays_as_it_was(redis: Redis) -> None:
    customer = await _ann_everywhere()
    bob = await site_order("bob@mail.ru", DRESS_M)
    async with in_transaction():
        await record_message(
            channel=MessageChannel.EMAIL, to="bob@mail.ru", template="t", params={"a": "b"}, now=NOW
        )
    before = {e.id: e.payload for e in await OutboxEvent.all() if "bob@mail.ru" in str(e.payload)}

    await erase_customer(redis=redis, customer_id=customer.id, text_version="v", device="", now=NOW)

    kept = await Order.get(id=bob.id)
    assert (kept.email, kept.customer_id) == ("bob@mail.ru", bob.customer_id)
    assert (await Customer.get(id=bob.customer_id)).email == "bob@mail.ru"
    after = {e.id: e.payload for e in await OutboxEvent.filter(id__in=list(before))}
    assert after == before
    assert len(before) >= 2  # his order's events and his message


async def test_a_closing_receipt_not_registered_yet_keeps_the_contact_it_goes_to(
    redis: Redis,
) -> None:
    # given Ann everywhere, and a second closing receipt of her order still to be registered
    customer = await _ann_everywhere()
    order = await Order.get(customer_id=customer.id)
    receipt = ClosingReceiptRecord(order.guid, "pay-2", "yookassa", "yk-2", EMAIL, PHONE)
    async with in_transaction():
        pending = await write_event(
            Target.RECEIPTS, f"order:{order.guid}", EventKind.CLOSING_RECEIPT, receipt, NOW
        )

    # when she is erased
    await erase_customer(
        redis=redis, customer_id=customer.id, text_version="pd-2025-09", device="", now=NOW
    )

    # then the fiscal receipt (54-FZ) still goes to her, and nothing else holds her data
    kept = await OutboxEvent.get(id=pending.id)
    assert kept.state is EventState.PENDING
    assert EMAIL in str(kept.payload) and PHONE in str(kept.payload)
    hits = await _hits()
    assert hits and {table for table, _, _ in hits} == {"outbox_event"}


class _Registering:
    """The payment provider's receipts API, as the outbox sees it: keeps what it was sent, and
    may let something happen while the call is under way."""

    def __init__(self, during: Callable[[], Awaitable[None]] | None = None) -> None:
        self.sent: list[ClosingReceiptRecord] = []
        self._during = during

    async def send_receipt(self, record: ClosingReceiptRecord, event_id: str) -> None:
        if self._during is not None:
            await self._during()
        self.sent.append(record)


async def _pending_receipt(order: Order) -> OutboxEvent:
    receipt = ClosingReceiptRecord(order.guid, "pay-2", "yookassa", "yk-2", EMAIL, PHONE)
    async with in_transaction():
        return await write_event(
            Target.RECEIPTS, f"order:{order.guid}", EventKind.CLOSING_RECEIPT, receipt, NOW
        )


async def _register(order: Order, provider: _Registering) -> int:
    outcome = await deliver_aggregate(
        target=Target.RECEIPTS,
        aggregate=f"order:{order.guid}",
        senders=Senders(receipts=provider),
        policy=RetryPolicy(),
        clock=lambda: NOW,
    )
    return outcome.delivered


async def test_a_receipt_registered_after_the_erasure_goes_to_her_then_leaves_no_contact(
    redis: Redis,
) -> None:
    # given Ann everywhere and a closing receipt of her order still to be registered
    customer = await _ann_everywhere()
    order = await Order.get(customer_id=customer.id)
    pending = await _pending_receipt(order)
    await erase_customer(redis=redis, customer_id=customer.id, text_version="v", device="", now=NOW)
    provider = _Registering()

    # when the provider registers it
    delivered = await _register(order, provider)

    # then the provider had her contact (54-FZ), and nothing we store has it any more
    assert delivered == 1
    assert [(r.email, r.phone) for r in provider.sent] == [(EMAIL, PHONE)]
    kept = await OutboxEvent.get(id=pending.id)
    assert kept.state is EventState.DELIVERED
    assert (kept.payload["email"], kept.payload["phone"], kept.payload["erased"]) == (
        None,
        None,
        True,
    )
    assert kept.payload["provider_payment_id"] == "yk-2"  # the fiscal facts stay
    assert await _hits() == []


async def test_an_erasure_while_the_receipt_is_being_registered_leaves_no_contact(
    redis: Redis,
) -> None:
    # given Ann's closing receipt on its way, and her erasure landing during the provider's call
    customer = await _ann_everywhere()
    order = await Order.get(customer_id=customer.id)
    await _pending_receipt(order)

    async def erase() -> None:
        await erase_customer(
            redis=redis, customer_id=customer.id, text_version="v", device="", now=NOW
        )

    provider = _Registering(during=erase)

    # when the receipt is registered
    delivered = await _register(order, provider)

    # then it went to her, and our copy lost her contact once it had gone
    assert delivered == 1 and provider.sent[0].email == EMAIL
    assert await _hits() == []


async def test_a_receipt_not_registered_yet_is_marked_and_keeps_the_contact(
    redis: Redis,
) -> None:
    customer = await _ann_everywhere()
    order = await Order.get(customer_id=customer.id)
    pending = await _pending_receipt(order)

    await erase_customer(redis=redis, customer_id=customer.id, text_version="v", device="", now=NOW)

    kept = await OutboxEvent.get(id=pending.id)
    assert (kept.state, kept.payload["email"], kept.payload["erased"]) == (
        EventState.PENDING,
        EMAIL,
        True,
    )
