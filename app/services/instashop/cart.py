"""Add the chosen size of each item of a look to a cart: all of them, or none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from app.domain.catalog import parse_guid
from app.domain.errors import DomainError, ErrorCode
from app.models.catalog import Variant
from app.models.checkout import Cart
from app.services.checkout import carts
from app.services.instashop.looks import LookView, get_look
from app.services.waiting_room import QueueGate
from app.services.waiting_room.passes import note_held

MAX_ITEMS = 20


@dataclass(frozen=True, slots=True)
class LookItem:
    product_guid: str
    variant_guid: str


class LookNotAdded(Exception):
    """Some items cannot be added; nothing was."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = list(errors)


async def add_look_to_cart(
    *,
    cart_token: str,
    look_id: str,
    items: Sequence[LookItem],
    now: datetime,
    device: str | None = None,
    queue_gate: QueueGate | None = None,
) -> Cart:
    """One unit of each item's variant, through the cart's own rule (`add_to_line`: on sale,
    in stock, within the drop's limit, held in a hold drop), in one transaction. Any item
    refused: every refusal is reported at `items.<n>` and nothing stays in the cart.
    `queue_gate`: a queued drop's items need its pass, as addToCart's (QUEUE_PASS_REQUIRED)."""
    cart = await carts.find_cart(cart_token)
    look = await get_look(media_id=look_id, now=now)
    if look is None:
        raise LookNotAdded([DomainError(ErrorCode.NOT_FOUND, "no such look", ("lookId",))])
    if not 1 <= len(items) <= MAX_ITEMS:
        raise LookNotAdded(
            [DomainError(ErrorCode.INVALID, f"choose 1..{MAX_ITEMS} items", ("items",))]
        )
    async with in_transaction():
        errors = [
            e
            for n, item in enumerate(items)
            if (e := await _add(cart, look, n, item, now, device, queue_gate))
        ]
        if errors:
            raise LookNotAdded(errors)  # rolls back every item added before
    if queue_gate is not None and queue_gate.held:  # committed: the passes are marked once
        await note_held(queue_gate, until=min(queue_gate.held))
    return cart


async def _add(
    cart: Cart,
    look: LookView,
    n: int,
    item: LookItem,
    now: datetime,
    device: str | None,
    queue_gate: QueueGate | None,
) -> DomainError | None:
    try:
        await _check_in_look(look, n, item)
        # its own savepoint inside ours: a refused item leaves nothing behind
        await carts.add_to_line(  # the device: its purchase limits count these units too
            cart_token=cart.token,
            variant_guid=item.variant_guid,
            quantity=1,
            now=now,
            device=device,
            queue_gate=queue_gate,
            note_passes=False,  # marked once, after this look's transaction commits
        )
    except DomainError as error:
        return error.at("items", n, *error.path)
    return None


async def _check_in_look(look: LookView, n: int, item: LookItem) -> None:
    """The product is one the look shows, and the variant is one of its sizes."""
    products = {link.product.guid: link.product_id for link in look.links}
    if item.product_guid not in products:
        raise DomainError(ErrorCode.NOT_FOUND, "this look shows no such product", ("productId",))
    try:
        guid = parse_guid(item.variant_guid, path=("variantId",))
    except DomainError:
        guid = ""
    if not await Variant.exists(guid=guid, product_id=products[item.product_guid]):
        raise DomainError(ErrorCode.NOT_FOUND, "no such size of this product", ("variantId",))
