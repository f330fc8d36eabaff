"""The shopper's cart: lines with live availability, contact, delivery, and drop-day holds."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from app.db import connection
from app.domain import checkout
from app.domain.allocation import WarehouseInfo, insufficient_stock, rank_warehouses
from app.domain.availability import available_from
from app.domain.catalog import parse_guid
from app.domain.contact import normalise_email, normalise_phone
from app.domain.errors import DomainError, ErrorCode
from app.domain.orders import DeliveryKind
from app.domain.reservations import ReservationState
from app.models.catalog import HoldMode, Variant, Warehouse, WarehouseKind
from app.models.checkout import Cart, CartLine
from app.models.checkout_sql import live_holds_to_touch, stock_view, touch_cart
from app.models.drop_sql import variant_with_drop
from app.models.stock import Reservation
from app.services.checkout.limits import check_within_purchase_limit
from app.services.inventory.reservations import Claim, infos_of, release, reserve
from app.services.waiting_room import QueueGate, require_pass
from app.services.waiting_room.passes import note_held, note_released


async def create_cart(customer_id: int | None = None, *, device: str | None = None) -> Cart:
    """Start a cart (a signed-in customer's, or anonymous); its token is the shopper's key.

    `device`: the shopper's device key (limits count by it)."""
    return await Cart.create(
        token=secrets.token_urlsafe(24), customer_id=customer_id, device=device
    )


async def find_cart(token: str) -> Cart:
    """The cart with this token; someone else's or an unknown token look the same."""
    cart = await Cart.get_or_none(token=token)
    if cart is None:
        raise no_cart()
    return cart


def no_cart() -> DomainError:
    return DomainError(ErrorCode.CART_NOT_FOUND, "no such cart", ("cartToken",))


async def sellable_variant(variant_guid: str, now: datetime, path: tuple[str, ...]) -> Variant:
    """A variant a shopper may buy now: known, published, and its drop has started."""
    variant = await _known_variant(variant_guid, path)
    check_on_sale(variant, now, path)
    return variant


def check_on_sale(variant: Variant, now: datetime, path: tuple[str, ...]) -> None:
    """Refuse a variant whose product is withdrawn or whose drop has not started."""
    collection = variant.product.collection
    release_at = collection.release_at if collection else None
    checkout.check_on_sale(
        published=variant.product.published, release_at=release_at, now=now, path=path
    )


def ranked_for(infos: dict[int, WarehouseInfo], pickup_warehouse_id: int | None) -> list[int]:
    return rank_warehouses(sorted(infos.values(), key=lambda w: w.id), pickup_warehouse_id)


async def set_line(
    *,
    cart_token: str,
    variant_guid: str,
    quantity: int,
    now: datetime,
    device: str | None = None,
    queue_gate: QueueGate | None = None,
) -> Cart:
    """Set how many of a variant the cart holds (0 removes it); holds stock in hold drops.

    `device`: the shopper's device key (limits count by it); `queue_gate`: checks the pass a
    queued drop needs (without one its variants are refused)."""
    change = _change_line(cart_token, variant_guid, now, device, lambda _: quantity, queue_gate)
    return await change


async def add_to_line(
    *,
    cart_token: str,
    variant_guid: str,
    quantity: int,
    now: datetime,
    device: str | None = None,
    queue_gate: QueueGate | None = None,
    note_passes: bool = True,
) -> Cart:
    """Add units to a line (a new line if the variant is not in the cart yet). `note_passes`
    False: inside a caller's transaction, which marks the gate's passes once it commits."""
    checkout.check_units_to_add(quantity)
    return await _change_line(
        cart_token, variant_guid, now, device, lambda n: n + quantity, queue_gate, note_passes
    )


async def _change_line(
    cart_token: str,
    variant_guid: str,
    now: datetime,
    device: str | None,
    new_quantity: Callable[[int], int],
    queue_gate: QueueGate | None = None,
    note_passes: bool = True,
) -> Cart:
    """Change one line under the cart's lock (two quick clicks add twice, never once)."""
    path = ("variantId",)
    async with in_transaction() as conn:
        # one statement locks the cart, reads it and records that the shopper is active (the
        # idle-cart sweep leaves it alone)
        cart = await touch_cart(conn, cart_token, now=now, device=device)
        if cart is None:
            raise no_cart()  # unknown, or deleted as idle a moment ago
        variant = await _known_variant(variant_guid, path)
        line = await CartLine.get_or_none(cart_id=cart.id, variant_id=variant.id)
        quantity = new_quantity(line.quantity if line else 0)
        checkout.check_line_quantity(quantity, zero_removes=True)
        if line is not None:
            await release(conn, await _live_hold_ids(line.id), now=now)
        if quantity == 0:  # removing is always allowed, even for a withdrawn product
            if line is not None:
                await line.delete()
                await note_released(queue_gate, variant.product.collection)
            return cart
        check_on_sale(variant, now, path)
        # a queued drop: only with a live pass (nothing is read for a drop without a queue)
        await require_pass(
            queue_gate, variant.product.collection, device=device, now=now, path=path
        )
        await check_within_purchase_limit(
            variant, cart, quantity, device=device, now=now, path=path
        )
        collection = variant.product.collection
        holds = collection is not None and collection.hold_mode == HoldMode.AT_CART
        # the warehouses and this variant's stock in them: one statement
        stock = await stock_view(conn, [variant.id], cart_id=None, now=now)
        infos = infos_of(stock.warehouses)
        ranked = ranked_for(infos, cart.pickup_warehouse_id)
        if not holds:  # an answer from what is free now, before the line is written
            free = available_from(stock.positions(variant.id), ranked)
            if free < quantity:
                raise insufficient_stock(free, path)
        if line is None:
            line = await CartLine.create(cart_id=cart.id, variant_id=variant.id, quantity=quantity)
        else:
            await CartLine.filter(id=line.id).update(quantity=quantity)
        held_until: datetime | None = None
        if holds and collection is not None:
            expires = held_until = now + timedelta(minutes=collection.hold_minutes)
            claim = Claim(ReservationState.HELD, cart_line_id=line.id, expires_at=expires)
            shops = {w for w, info in infos.items() if info.is_shop}
            await _reserve_or_report(conn, variant.id, quantity, ranked, shops, claim, now, path)
    await touch_holds(cart=cart, now=now)
    if held_until is not None and queue_gate is not None:
        queue_gate.held.append(held_until)
        if note_passes:  # committed: a queued drop's pass now holds its units
            await note_held(queue_gate, until=min(queue_gate.held))
    return cart


async def _known_variant(variant_guid: str, path: tuple[str, ...]) -> Variant:
    try:
        guid = parse_guid(variant_guid, path=path)
    except DomainError:
        guid = ""
    # the variant, its product and its drop in one statement (a join, not three reads)
    variant = await variant_with_drop(connection(), guid)
    if variant is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such variant", path)
    return variant


async def _reserve_or_report(
    conn: BaseDBAsyncClient,
    variant_id: int,
    quantity: int,
    ranked: list[int],
    shops: set[int],
    claim: Claim,
    now: datetime,
    path: tuple[str, ...],
) -> None:
    try:
        await reserve(
            conn,
            variant_id=variant_id,
            quantity=quantity,
            ranked=ranked,
            shops=shops,
            claim=claim,
            now=now,
        )
    except DomainError as error:
        raise error.at(*path) from None


async def _live_hold_ids(line_id: int) -> list[int]:
    holds = Reservation.filter(cart_line_id=line_id, state=ReservationState.HELD)
    return [r.id for r in await holds.only("id")]


async def touch_holds(*, cart: Cart, now: datetime) -> None:
    """The shopper is active: push their live holds' expiry forward (expired ones stay lost).

    One read finds the live holds in hold-at-cart drops; an update per drop hold time follows
    (none for a cart without holds)."""
    conn = connection()
    for minutes, ids in (await live_holds_to_touch(conn, cart.id, now=now)).items():
        await Reservation.filter(
            id__in=ids, state=ReservationState.HELD, expires_at__gt=now
        ).update(expires_at=now + timedelta(minutes=minutes))


async def set_contact(
    *, cart_token: str, email: str | None, phone: str | None, first_name: str, last_name: str
) -> Cart:
    """Record how to reach the shopper (e-mail and/or phone, normalised)."""
    cart = await find_cart(cart_token)
    cart.email = normalise_email(email) if email else None
    cart.phone = normalise_phone(phone) if phone else None
    cart.phone_raw = phone.strip() if phone and cart.phone else None  # what the shopper typed
    if cart.email is None and cart.phone is None:
        raise DomainError(ErrorCode.CONTACT_REQUIRED, "an e-mail or a phone is needed", ("email",))
    cart.first_name, cart.last_name = first_name.strip(), last_name.strip()
    await cart.save()
    return cart


async def set_delivery(
    *, cart_token: str, kind: DeliveryKind, address: str, shop_guid: str | None, now: datetime
) -> Cart:
    """Courier to an address, or pickup at one of the brand's shops."""
    cart = await find_cart(cart_token)
    pickup_warehouse_id = None
    if kind is DeliveryKind.PICKUP:
        shop = await Warehouse.get_or_none(guid=shop_guid or "", kind=WarehouseKind.SHOP)
        if shop is None:
            raise DomainError(ErrorCode.NOT_FOUND, "no such shop", ("shopId",))
        pickup_warehouse_id, address = shop.id, ""
    elif not address.strip():
        raise DomainError(ErrorCode.DELIVERY_REQUIRED, "a courier needs an address", ("address",))
    cart.delivery_kind, cart.delivery_address = kind, address.strip()
    cart.pickup_warehouse_id = pickup_warehouse_id
    await cart.save()
    await touch_holds(cart=cart, now=now)
    return cart


async def hold_expires_at(cart_id: int, now: datetime) -> datetime | None:
    """When the first of the cart's live holds runs out (the cart shows it)."""
    holds = await Reservation.filter(
        cart_line__cart_id=cart_id, state=ReservationState.HELD, expires_at__gt=now
    ).only("id", "expires_at")
    return min((h.expires_at for h in holds if h.expires_at is not None), default=None)


async def live_holds_by_line(line_ids: list[int], now: datetime) -> dict[int, dict[int, int]]:
    """Per cart line, the units its live holds keep in each warehouse."""
    held: dict[int, dict[int, int]] = {}
    rows = await Reservation.filter(
        cart_line_id__in=line_ids, state=ReservationState.HELD, expires_at__gt=now
    ).values_list("cart_line_id", "warehouse_id", "quantity")
    for line_id, warehouse_id, qty in rows:
        per = held.setdefault(line_id, {})
        per[warehouse_id] = per.get(warehouse_id, 0) + qty
    return held
