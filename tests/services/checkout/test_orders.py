"""Placing orders: allocation, all-or-nothing, idempotency, drop rules, payment, expiry."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import OrderStatus
from app.domain.outbox import EventKind
from app.domain.reservations import ReservationState, ShopConfirmation
from app.integrations.payments.dummy import DECLINED, STAYS_PENDING, SUCCEEDS, DummyProvider
from app.models.orders import Order, OrderStatusChange
from app.models.outbox import OutboxEvent
from app.models.stock import Reservation
from app.services.checkout import orders
from app.services.inventory.reservations import buffer_matches_reservations
from app.services.jobs import NoQueue
from app.services.payments import start as payments
from tests import factories

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DRESS = factories.guid("variant/Dress/M/black")
SHIRT = factories.guid("variant/Shirt/M/white")


async def _given_stock(online: int, shop_a: int = 0, shop_b: int = 0) -> None:
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black", "5000.00")])
    await factories.product("Shirt", variants=[factories.variant("Shirt", "M", "white", "3000.00")])
    for variant in (DRESS, SHIRT):
        for warehouse, qty in (
            (factories.ONLINE, online),
            (factories.SHOP_A, shop_a),
            (factories.SHOP_B, shop_b),
        ):
            await factories.stock(variant, warehouse, qty)


async def _allocations(order: Order) -> list[tuple[str, int, str]]:
    rows = await Reservation.filter(order_line__order_id=order.id).prefetch_related("warehouse")
    return sorted((r.warehouse.guid, r.quantity, r.shop_confirmation.value) for r in rows)


async def _error(work: object) -> DomainError:
    with pytest.raises(DomainError) as error:
        await work  # type: ignore[misc]
    return error.value


async def test_an_order_reserves_from_the_online_warehouse_first(db: str) -> None:
    await _given_stock(online=5, shop_a=5)
    placed = await factories.place(await factories.cart_with([(DRESS, 2)], now=NOW), now=NOW)
    order = placed.order
    assert (order.status, order.total, order.number) == (
        OrderStatus.AWAITING_PAYMENT,
        1000000,
        f"V-{order.id:06d}",
    )
    assert await _allocations(order) == [(factories.ONLINE, 2, "not_needed")]
    assert (await factories.positions(DRESS))[factories.ONLINE] == (5, 2)
    assert await buffer_matches_reservations() == []


async def test_a_line_is_split_when_no_warehouse_has_it_all(db: str) -> None:
    await _given_stock(online=1, shop_a=1, shop_b=2)
    placed = await factories.place(await factories.cart_with([(DRESS, 3)], now=NOW), now=NOW)
    # online 1, then shop A (priority 20) 1, then shop B (30); shop units wait for the shop
    assert await _allocations(placed.order) == sorted(
        [
            (factories.ONLINE, 1, "not_needed"),
            (factories.SHOP_A, 1, "requested"),
            (factories.SHOP_B, 1, "requested"),
        ]
    )


async def test_a_split_line_is_told_to_1c_and_retailcrm_as_it_was_served(db: str) -> None:
    # given a line no single warehouse can serve (its first warehouse's guess is wrong)
    await _given_stock(online=1, shop_a=2)

    # when it is placed
    placed = await factories.place(await factories.cart_with([(DRESS, 3)], now=NOW), now=NOW)

    # then both systems' order.placed rows carry the two warehouses it came from, and the
    # books balance (the reservation written ahead for the online warehouse is gone)
    rows = await OutboxEvent.filter(kind=EventKind.ORDER_PLACED).order_by("target")
    assert [r.target.value for r in rows] == ["onec", "retailcrm"]
    for row in rows:
        served = [(x["warehouse_guid"], x["quantity"]) for x in row.payload["lines"]]
        assert served == [(factories.ONLINE, 1), (factories.SHOP_A, 2)]
    assert len(await Reservation.filter(order_line__order_id=placed.order.id)) == 2
    assert await buffer_matches_reservations() == []


async def test_a_pickup_order_takes_stock_from_the_chosen_shop_only(db: str) -> None:
    await _given_stock(online=9, shop_a=0, shop_b=1)
    cart = await factories.cart_with([(DRESS, 1)], now=NOW, pickup=factories.SHOP_B)
    placed = await factories.place(cart, now=NOW)
    assert await _allocations(placed.order) == [
        (factories.SHOP_B, 1, ShopConfirmation.REQUESTED.value)
    ]
    cart = await factories.cart_with([], now=NOW, pickup=factories.SHOP_A)
    error = await _error(_add(cart, DRESS, 1))
    assert (error.code, error.available) == (ErrorCode.INSUFFICIENT_STOCK, 0)


async def _add(cart: str, variant: str, quantity: int) -> object:
    from app.services.checkout import carts

    return await carts.set_line(cart_token=cart, variant_guid=variant, quantity=quantity, now=NOW)


async def test_all_lines_or_none(db: str) -> None:
    await _given_stock(online=2)
    cart = await factories.cart_with([(DRESS, 1), (SHIRT, 2)], now=NOW)
    await factories.place(
        await factories.cart_with([(SHIRT, 1)], now=NOW, email="other@example.com"), now=NOW
    )
    error = await _error(factories.place(cart, now=NOW))
    assert (error.code, tuple(error.path), error.available) == (
        ErrorCode.INSUFFICIENT_STOCK,
        ("lines", 1),
        1,
    )
    assert await Order.all().count() == 1
    assert (await factories.positions(DRESS))[factories.ONLINE] == (2, 0)  # the dress was not kept
    assert await buffer_matches_reservations() == []


async def test_the_same_key_returns_the_same_order_and_another_cart_is_refused(db: str) -> None:
    await _given_stock(online=5)
    cart = await factories.cart_with([(DRESS, 1)], now=NOW)
    first = await factories.place(cart, now=NOW, key="checkout-123")
    again = await factories.place(cart, now=NOW, key="checkout-123")
    assert (first.created, again.created, again.order.id) == (True, False, first.order.id)
    other = await factories.cart_with([(DRESS, 1)], now=NOW)
    error = await _error(factories.place(other, now=NOW, key="checkout-123"))
    assert error.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert await Order.all().count() == 1 and (await factories.positions(DRESS))[
        factories.ONLINE
    ] == (5, 1)


async def test_the_same_key_sent_twice_at_once_places_one_order_and_returns_it_twice(
    db: str,
) -> None:
    # given a ready cart
    await _given_stock(online=5)
    cart = await factories.cart_with([(DRESS, 1)], now=NOW)

    # when the storefront sends placeOrder twice at once with the same key (a double tap)
    placed = await asyncio.gather(
        *(factories.place(cart, now=NOW, key="double-tap") for _ in range(2))
    )

    # then one order was made, and both answers are that order
    assert sorted(p.created for p in placed) == [False, True]
    assert placed[0].order.id == placed[1].order.id
    assert await Order.all().count() == 1
    assert (await factories.positions(DRESS))[factories.ONLINE] == (5, 1)


async def test_carts_that_are_not_ready_are_refused_and_nothing_is_written(db: str) -> None:
    from app.services.checkout import carts

    await _given_stock(online=5)
    empty = await factories.cart_with([], now=NOW)
    assert (await _error(factories.place(empty, now=NOW))).code is ErrorCode.EMPTY_CART
    bare = (await carts.create_cart()).token
    await _add(bare, DRESS, 1)
    assert (await _error(factories.place(bare, now=NOW))).code is ErrorCode.CONTACT_REQUIRED
    assert (await _error(factories.place("nope", now=NOW))).code is ErrorCode.CART_NOT_FOUND
    assert (await _error(factories.place(empty, now=NOW, key="short"))).code is ErrorCode.INVALID
    for quantity in (-1, 51):
        assert (await _error(_add(empty, DRESS, quantity))).code is ErrorCode.INVALID_QUANTITY
    assert (await _error(_add(empty, factories.guid("nope"), 1))).code is ErrorCode.NOT_FOUND
    assert (await _error(_add(empty, "not-a-guid", 1))).code is ErrorCode.NOT_FOUND
    assert await Order.all().count() == 0 and await Reservation.all().count() == 0


async def test_a_drop_cannot_be_bought_before_its_release(db: str) -> None:
    await factories.warehouses()
    drop = await factories.collection("Drop", NOW + timedelta(hours=1))
    await factories.product("Velvet", collection_guid=drop)
    velvet = factories.guid("variant/Velvet/M/black")
    await factories.stock(velvet, factories.ONLINE, 5)
    cart = await factories.cart_with([], now=NOW)
    assert (await _error(_add(cart, velvet, 1))).code is ErrorCode.NOT_RELEASED
    after = NOW + timedelta(hours=1)
    await factories.cart_with([(velvet, 1)], now=after)  # at the instant it is on sale


async def test_payment_marks_the_order_paid_once(db: str) -> None:
    await _given_stock(online=5)
    order = (await factories.place(await factories.cart_with([(DRESS, 1)], now=NOW), now=NOW)).order
    provider = DummyProvider()
    declined = await _pay(order, provider, DECLINED)
    assert declined.order.status is OrderStatus.AWAITING_PAYMENT
    pending = await _pay(order, provider, STAYS_PENDING)
    assert pending.order.status is OrderStatus.AWAITING_PAYMENT
    paid = await _pay(order, provider, SUCCEEDS)
    assert paid.order.status is OrderStatus.PAID
    assert (await _error(_pay(order, provider, SUCCEEDS))).code is ErrorCode.INVALID_TRANSITION
    history = await OrderStatusChange.filter(order_id=order.id).order_by("id")
    assert [(h.from_status, h.to_status) for h in history] == [
        (None, OrderStatus.AWAITING_PAYMENT),
        (OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID),
    ]


async def _pay(order: Order, provider: DummyProvider, card: str) -> payments.PaymentOutcome:
    return await payments.pay_order(
        order_token=order.token,
        idempotency_key=f"pay-{uuid.uuid4()}",
        provider=provider,
        card_number=card,
        return_url="https://shop.example/",
        jobs=NoQueue(),
        now=NOW,
    )


async def test_an_unpaid_order_expires_and_gives_its_units_back_once(db: str) -> None:
    await _given_stock(online=3)
    order = (await factories.place(await factories.cart_with([(DRESS, 2)], now=NOW), now=NOW)).order
    assert not await orders.expire_order(order_id=order.id, now=NOW + timedelta(minutes=14))
    late = NOW + timedelta(minutes=15)
    assert await orders.expire_overdue(now=late) == 1
    assert not await orders.expire_order(order_id=order.id, now=late)  # the job, late: no-op
    assert (await Order.get(id=order.id)).status is OrderStatus.CANCELLED
    assert (await factories.positions(DRESS))[factories.ONLINE] == (3, 0)
    assert [r.state for r in await Reservation.all()] == [ReservationState.RELEASED]
    error = await _error(_pay(order, DummyProvider(), SUCCEEDS))
    assert error.code is ErrorCode.INVALID_TRANSITION


async def test_purchase_limit_per_shopper_per_variant(db: str) -> None:
    from app.models.catalog import Collection

    await factories.warehouses()
    drop = await factories.collection("Limited", NOW - timedelta(hours=1))
    await Collection.filter(guid=drop).update(purchase_limit=2)
    await factories.product("Bag", collection_guid=drop)
    bag = factories.guid("variant/Bag/M/black")
    await factories.stock(bag, factories.ONLINE, 10)
    first = await factories.place(await factories.cart_with([(bag, 2)], now=NOW), now=NOW)
    await _pay(first.order, DummyProvider(), SUCCEEDS)  # paid: no unpaid order stands in the way
    from app.domain.orders import DeliveryKind
    from app.services.checkout import carts

    cart = (await carts.create_cart()).token
    await _add(cart, bag, 1)  # contact unknown yet: the cart alone is under the limit
    await carts.set_delivery(
        cart_token=cart, kind=DeliveryKind.COURIER, address="Москва", shop_guid=None, now=NOW
    )
    await carts.set_contact(
        cart_token=cart, email="BUYER@example.com", phone=None, first_name="", last_name=""
    )
    error = await _error(factories.place(cart, now=NOW, key="second-order"))
    assert error.code is ErrorCode.PURCHASE_LIMIT_EXCEEDED
    assert (await _error(_add(cart, bag, 1))).code is ErrorCode.PURCHASE_LIMIT_EXCEEDED
    assert await Order.all().count() == 1 and (await factories.positions(bag))[
        factories.ONLINE
    ] == (10, 2)


async def test_a_signed_in_shopper_cannot_pass_the_limit_with_another_e_mail(db: str) -> None:
    from app.models.catalog import Collection
    from app.models.checkout import Cart
    from app.models.customers import Customer

    await factories.warehouses()
    drop = await factories.collection("Limited", NOW - timedelta(hours=1))
    await Collection.filter(guid=drop).update(purchase_limit=2)
    await factories.product("Bag", collection_guid=drop)
    bag = factories.guid("variant/Bag/M/black")
    await factories.stock(bag, factories.ONLINE, 10)
    account = await Customer.create(guid=str(uuid.uuid4()), email="anna@example.com")
    first = await factories.cart_with([(bag, 2)], now=NOW, email="anna@example.com")
    await Cart.filter(token=first).update(customer_id=account.id)
    placed = await factories.place(first, now=NOW)
    await _pay(placed.order, DummyProvider(), SUCCEEDS)  # paid: no unpaid order in the way

    second = await factories.cart_with([(bag, 1)], now=NOW, email="other-box@example.com")
    await Cart.filter(token=second).update(customer_id=account.id)

    error = await _error(factories.place(second, now=NOW, key="second-order"))
    assert error.code is ErrorCode.PURCHASE_LIMIT_EXCEEDED
    assert await Order.all().count() == 1
