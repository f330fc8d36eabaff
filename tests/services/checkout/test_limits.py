"""A drop's limits per shopper: one unpaid order per e-mail, phone, account and device, and
purchase limits counted across every cart and order of theirs."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.checkout import device_key
from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import DeliveryKind
from app.integrations.payments.dummy import SUCCEEDS, DummyProvider
from app.models.catalog import Collection, HoldMode
from app.models.checkout import Cart, CartLine
from app.models.customers import Customer
from app.models.orders import DropOrderClaim, Order
from app.services.checkout import carts, orders
from app.services.inventory.reservations import buffer_matches_reservations
from app.services.jobs import NoQueue
from app.services.payments import start as payments
from tests import factories

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
RUSH = timedelta(hours=24)
DRESS = factories.guid("variant/Dress/M/black")  # in the drop
SHIRT = factories.guid("variant/Shirt/M/black")  # in no collection
PHONE = device_key("1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b", "203.0.113.7")
LAPTOP = device_key("6fa459ea-ee8a-3ca4-894e-db77e160355e", "203.0.113.7")


async def _given_drop(
    released: timedelta = timedelta(hours=1), *, limit: int | None = None, hold: bool = False
) -> str:
    """A dress in a drop released `released` ago (10 units online), a shirt in no drop."""
    await factories.warehouses()
    drop = await factories.collection("Drop", NOW - released)
    rules: dict[str, Any] = {"purchase_limit": limit}
    if hold:
        rules |= {"hold_mode": HoldMode.AT_CART, "hold_minutes": 10}
    await Collection.filter(guid=drop).update(**rules)
    await factories.product("Dress", collection_guid=drop)
    await factories.product("Shirt")
    await factories.stock(DRESS, factories.ONLINE, 10)
    await factories.stock(SHIRT, factories.ONLINE, 10)
    return drop


async def _cart(
    lines: list[tuple[str, int]],
    *,
    email: str | None = "anna@example.com",
    phone: str | None = None,
    device: str | None = None,
    account: int | None = None,
) -> str:
    """A cart ready to order, its lines added from `device`."""
    token = (await carts.create_cart(account, device=device)).token
    for variant, quantity in lines:
        await carts.set_line(
            cart_token=token, variant_guid=variant, quantity=quantity, now=NOW, device=device
        )
    await carts.set_contact(
        cart_token=token, email=email, phone=phone, first_name="Анна", last_name=""
    )
    await carts.set_delivery(
        cart_token=token, kind=DeliveryKind.COURIER, address="Москва", shop_guid=None, now=NOW
    )
    return token


async def _place(
    cart: str, *, device: str | None = None, now: datetime = NOW
) -> orders.PlacedOrder:
    return await orders.place_order(
        cart_token=cart,
        idempotency_key=f"key-{cart}",
        now=now,
        payment_timeout=timedelta(minutes=15),
        jobs=NoQueue(),
        device=device,
        drop_rush=RUSH,
    )


async def _refused(work: Any) -> DomainError:
    with pytest.raises(DomainError) as error:
        await work
    return error.value


async def _pay(order: Order) -> None:
    await payments.pay_order(
        order_token=order.token,
        idempotency_key=f"payment-of-{order.guid}",
        provider=DummyProvider(),
        card_number=SUCCEEDS,
        return_url="https://shop.example/",
        jobs=NoQueue(),
        now=NOW,
    )


async def _claimed_orders() -> set[int]:
    return {claim.order_id for claim in await DropOrderClaim.all()}


# --- one unpaid order per shopper in a drop --------------------------------------------------


async def test_a_second_unpaid_order_with_the_same_e_mail_is_refused_and_changes_nothing(
    db: str,
) -> None:
    await _given_drop()
    first = await _place(await _cart([(DRESS, 2)]))
    second = await _cart([(SHIRT, 1), (DRESS, 1)], email="Anna@Example.com")

    error = await _refused(_place(second))

    assert (error.code, error.path) == (ErrorCode.UNPAID_ORDER_EXISTS, ("lines", 1))
    assert error.message == (
        "an order placed with this e-mail is waiting for payment in this drop; "
        "pay or cancel it first"
    )
    assert [o.id for o in await Order.all()] == [first.order.id]
    assert (await factories.positions(DRESS))[factories.ONLINE] == (10, 2)
    assert (await factories.positions(SHIRT))[factories.ONLINE] == (10, 0)
    assert await CartLine.filter(cart__token=second).count() == 2  # the cart is as it was
    assert await _claimed_orders() == {first.order.id}
    assert await buffer_matches_reservations() == []


@pytest.mark.parametrize("shared", ["phone", "account", "device"])
async def test_a_phone_an_account_or_a_device_alone_is_one_shopper(db: str, shared: str) -> None:
    await _given_drop()
    account = (await Customer.create(guid="7c9e6679-7425-40de-944b-e07fc1f90ae7")).id
    identities: dict[str, dict[str, Any]] = {
        "phone": {"phone": "+7 916 123-45-67"},
        "account": {"account": account},
        "device": {"device": PHONE},
    }
    same = identities[shared]
    first = await _cart([(DRESS, 1)], email="anna@example.com", **same)
    await _place(first, device=same.get("device"))
    second = await _cart([(DRESS, 1)], email="other@example.com", **same)

    error = await _refused(_place(second, device=same.get("device")))

    kind = {"phone": "this phone", "account": "your account", "device": "this device"}[shared]
    assert (error.code, error.message.split(" is ")[0]) == (
        ErrorCode.UNPAID_ORDER_EXISTS,
        f"an order placed with {kind}",
    )
    assert await Order.all().count() == 1


async def test_a_paid_cancelled_or_overdue_order_leaves_room_for_the_next(db: str) -> None:
    await _given_drop()
    paid = await _place(await _cart([(DRESS, 1)]))
    await _pay(paid.order)
    cancelled = await _place(await _cart([(DRESS, 1)]))
    await orders.cancel_order(order_id=cancelled.order.id, reason="test", now=NOW)
    overdue = await _place(await _cart([(DRESS, 1)]))
    # its time is over, though no job has cancelled it yet
    later = NOW + timedelta(minutes=15)
    last = await _place(await _cart([(DRESS, 1)]), now=later)
    assert last.created
    assert await _claimed_orders() == {last.order.id}
    assert overdue.order.id != last.order.id


async def test_the_rule_holds_per_drop_and_only_in_its_rush(db: str) -> None:
    await _given_drop(released=RUSH)  # its rush is just over
    await factories.product("Boots", collection_guid=await factories.collection("New", NOW))
    boots = factories.guid("variant/Boots/M/black")
    await factories.stock(boots, factories.ONLINE, 5)
    await _place(await _cart([(DRESS, 1)]))
    await _place(await _cart([(DRESS, 1)]))  # an old drop: two unpaid orders are fine
    await _place(await _cart([(SHIRT, 1)]))  # so is anything in no drop
    await _place(await _cart([(boots, 1)]))  # and one in another drop
    error = await _refused(_place(await _cart([(boots, 1)])))
    assert error.code is ErrorCode.UNPAID_ORDER_EXISTS
    assert await Order.all().count() == 4


async def test_two_orders_of_one_shopper_at_once_make_one(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first order holds its claim uncommitted; the second waits for it, then is refused."""
    await _given_drop()
    first_cart, second_cart = await _cart([(DRESS, 1)]), await _cart([(DRESS, 2)])
    committing, go_on = asyncio.Event(), asyncio.Event()
    record_placed = orders._record_placed

    first_cart_id = (await Cart.get(token=first_cart)).id

    async def paused(order: Order, *rest: Any) -> Any:
        if order.cart_id == first_cart_id:  # inside its transaction, after its claim and stock
            committing.set()
            await go_on.wait()
        return await record_placed(order, *rest)

    monkeypatch.setattr(orders, "_record_placed", paused)
    first = asyncio.create_task(_place(first_cart))
    await committing.wait()
    second = asyncio.create_task(_place(second_cart))
    await asyncio.sleep(0.5)
    assert not second.done()  # waiting on the first one's claim (or, on SQLite, its writer lock)
    go_on.set()
    placed = await first
    error = await _refused(second)
    assert (placed.created, error.code) == (True, ErrorCode.UNPAID_ORDER_EXISTS)
    assert (await factories.positions(DRESS))[factories.ONLINE] == (10, 1)
    assert await buffer_matches_reservations() == []


async def test_a_storm_of_one_shoppers_orders_places_exactly_one(db: str) -> None:
    await _given_drop()
    tokens = [await _cart([(DRESS, 1)], device=f"device-{n}") for n in range(8)]

    async def outcome(token: str) -> str:
        try:
            await _place(token)
        except DomainError as error:
            return error.code.value
        return "placed"

    results = Counter(await asyncio.gather(*(outcome(t) for t in tokens)))
    assert results == Counter({"placed": 1, "UNPAID_ORDER_EXISTS": 7})
    assert (await factories.positions(DRESS))[factories.ONLINE] == (10, 1)
    assert await buffer_matches_reservations() == []


# --- purchase limits across carts and orders -------------------------------------------------


async def test_the_limit_counts_a_devices_orders_whatever_the_e_mail(db: str) -> None:
    await _given_drop(limit=2)
    placed = await _place(await _cart([(DRESS, 2)], device=PHONE), device=PHONE)
    await _pay(placed.order)
    cart = (await carts.create_cart(device=PHONE)).token

    error = await _refused(
        carts.add_to_line(cart_token=cart, variant_guid=DRESS, quantity=1, now=NOW, device=PHONE)
    )

    assert (error.code, error.path) == (ErrorCode.PURCHASE_LIMIT_EXCEEDED, ("variantId",))
    assert error.message == "at most 2 per shopper in this drop; 0 left for you"
    assert await CartLine.filter(cart__token=cart).count() == 0
    # another device is another shopper (with another e-mail)
    other = await _cart([(DRESS, 2)], email="boris@example.com", device=LAPTOP)
    assert (await _place(other, device=LAPTOP)).created


async def test_holds_in_a_shoppers_other_carts_count_until_they_expire(db: str) -> None:
    await _given_drop(limit=2, hold=True)
    first = (await carts.create_cart(device=PHONE)).token
    await carts.add_to_line(cart_token=first, variant_guid=DRESS, quantity=2, now=NOW, device=PHONE)
    second = (await carts.create_cart(device=PHONE)).token

    error = await _refused(
        carts.add_to_line(cart_token=second, variant_guid=DRESS, quantity=1, now=NOW, device=PHONE)
    )

    assert error.code is ErrorCode.PURCHASE_LIMIT_EXCEEDED
    assert (await factories.positions(DRESS))[factories.ONLINE] == (10, 2)
    # once the first cart's hold has run out, the units are the shopper's to hold again
    later = NOW + timedelta(minutes=10)
    await carts.add_to_line(
        cart_token=second, variant_guid=DRESS, quantity=2, now=later, device=PHONE
    )
    assert await buffer_matches_reservations() == []


async def test_a_signed_in_shopper_counts_guest_orders_of_their_verified_e_mail(db: str) -> None:
    await _given_drop(limit=2)
    guest = await _place(await _cart([(DRESS, 2)], email="anna@example.com"))
    await _pay(guest.order)
    # the guest's customer becomes an account that proves the e-mail
    account = await Customer.get(email="anna@example.com")
    await Customer.filter(id=account.id).update(email_verified_at=NOW - timedelta(days=3))
    cart = (await carts.create_cart(account.id)).token
    await carts.set_contact(
        cart_token=cart, email="work@example.com", phone=None, first_name="", last_name=""
    )

    error = await _refused(
        carts.add_to_line(cart_token=cart, variant_guid=DRESS, quantity=1, now=NOW)
    )

    assert error.code is ErrorCode.PURCHASE_LIMIT_EXCEEDED
    # an e-mail the account has not verified proves nothing: it does not count
    await Customer.filter(id=account.id).update(email_verified_at=None)
    await carts.add_to_line(cart_token=cart, variant_guid=DRESS, quantity=1, now=NOW)
