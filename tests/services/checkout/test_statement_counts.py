"""The checkout hot path's SQL statements, pinned: each one is a round trip under a drop's
storm, so a new read must be a decision, not an accident (issue 11: addToCart made 18 and
placeOrder 33 before they were merged)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import DeliveryKind
from app.services.checkout import carts
from app.services.inventory.reservations import buffer_matches_reservations
from tests import factories
from tests.conftest import QueryCounter

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DRESS = factories.guid("variant/Dress/M/black")
SHIRT = factories.guid("variant/Shirt/M/white")


async def _given_stock(dress: int, shirt: int = 5) -> None:
    """Two variants of a drop released an hour ago (its rush: one unpaid order a shopper)."""
    await factories.warehouses()
    drop = await factories.collection("Drop", NOW - timedelta(hours=1))
    for name, colour in (("Dress", "black"), ("Shirt", "white")):
        variants = [factories.variant(name, "M", colour)]
        await factories.product(name, variants=variants, collection_guid=drop)
    await factories.stock(DRESS, factories.ONLINE, dress)
    await factories.stock(SHIRT, factories.ONLINE, shirt)


async def _ready_cart() -> str:
    """A cart with a contact and courier delivery, and no lines yet."""
    cart = await carts.create_cart()
    await carts.set_contact(
        cart_token=cart.token, email="a@example.com", phone=None, first_name="A", last_name="B"
    )
    await carts.set_delivery(
        cart_token=cart.token,
        kind=DeliveryKind.COURIER,
        address="1 Street",
        shop_guid=None,
        now=NOW,
    )
    return cart.token


async def test_adding_a_line_costs_six_statements(db: str, sql_counter: QueryCounter) -> None:
    # given a ready cart and a variant in stock
    await _given_stock(dress=3)
    token = await _ready_cart()
    sql_counter.statements.clear()

    # when a unit is added
    await carts.add_to_line(cart_token=token, variant_guid=DRESS, quantity=1, now=NOW)

    # then: cart locked, touched and read; variant with product and drop; the line read and
    # written; the warehouses with the variant's stock; the live holds to push forward
    assert len(sql_counter.statements) == 6, sql_counter.statements


async def test_an_order_of_one_line_costs_fourteen_statements(
    db: str, sql_counter: QueryCounter
) -> None:
    # given a ready cart of one line, the customer new
    await _given_stock(dress=3)
    token = await _ready_cart()
    await carts.add_to_line(cart_token=token, variant_guid=DRESS, quantity=1, now=NOW)
    sql_counter.statements.clear()

    # when it is placed
    placed = await factories.place(token, now=NOW)

    # then: cart locked with the key looked up; lines with variants, products and drops;
    # warehouses with stock; order; the drop's unpaid-order claim; order line; one conditional
    # UPDATE; reservation; status change; lines deleted; customer found and created; number
    # and customer set; the outbox rows
    assert placed.created
    assert len(sql_counter.statements) == 14, sql_counter.statements
    assert sum(s.startswith("UPDATE stock_level") for s in sql_counter.statements) == 1
    assert [e.target.value for e in placed.events] == ["onec", "onec", "retailcrm"]
    assert await buffer_matches_reservations() == []


async def test_a_second_line_adds_only_its_own_writes(db: str, sql_counter: QueryCounter) -> None:
    # given a ready cart of two lines
    await _given_stock(dress=3)
    token = await _ready_cart()
    for guid in (DRESS, SHIRT):
        await carts.add_to_line(cart_token=token, variant_guid=guid, quantity=1, now=NOW)
    sql_counter.statements.clear()

    # when it is placed
    await factories.place(token, now=NOW)

    # then the second line costs its order line, its conditional UPDATE and its reservation
    assert len(sql_counter.statements) == 14 + 3, sql_counter.statements


async def test_a_sold_out_line_is_refused_after_three_reads_and_no_write(
    db: str, sql_counter: QueryCounter
) -> None:
    # given a ready cart whose only unit someone else ordered meanwhile
    await _given_stock(dress=1)
    token = await _ready_cart()
    await carts.add_to_line(cart_token=token, variant_guid=DRESS, quantity=1, now=NOW)
    other = await _ready_cart()
    await carts.add_to_line(cart_token=other, variant_guid=DRESS, quantity=1, now=NOW)
    await factories.place(other, now=NOW)
    sql_counter.statements.clear()

    # when the cart is placed
    try:
        await factories.place(token, now=NOW)
    except DomainError as error:
        refused = error
    else:
        raise AssertionError("the order went through")

    # then it is refused at its line before anything is written: cart, lines, stock
    assert (refused.code, refused.path, refused.available) == (
        ErrorCode.INSUFFICIENT_STOCK,
        ("lines", 0),
        0,
    )
    assert len(sql_counter.statements) == 3, sql_counter.statements
    assert (await factories.positions(DRESS))[factories.ONLINE] == (1, 1)


async def test_adding_a_sold_out_variant_is_refused_before_the_line_is_written(
    db: str, sql_counter: QueryCounter
) -> None:
    # given a ready cart and a variant with nothing left
    await _given_stock(dress=0)
    token = await _ready_cart()
    sql_counter.statements.clear()

    # when a unit is added
    try:
        await carts.add_to_line(cart_token=token, variant_guid=DRESS, quantity=1, now=NOW)
    except DomainError as error:
        refused = error
    else:
        raise AssertionError("the line was added")

    # then it is refused after the cart, the variant, its line and its stock were read
    assert (refused.code, refused.path, refused.available) == (
        ErrorCode.INSUFFICIENT_STOCK,
        ("variantId",),
        0,
    )
    assert len(sql_counter.statements) == 4, sql_counter.statements
    assert not any(s.startswith(("INSERT", "DELETE")) for s in sql_counter.statements)
