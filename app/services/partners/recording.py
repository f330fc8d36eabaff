"""Record what partners subscribed to, in the caller's transaction: one outbox row (target
`partner`) per subscription that wants the event, so nothing is lost and nothing is sent
for a change that rolled back.

Paused subscriptions keep receiving rows (they are sent once it is resumed); a deleted one
stops. Stock changes are batched: a change joins its variant's event still waiting out its
window, and the figure is read when the event is sent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import cast

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.catalog import is_visible
from app.domain.orders import OrderStatus
from app.domain.outbox import EventKind, EventState, Target
from app.domain.webhooks import (
    STOCK_JOIN_MARGIN,
    STOCK_WINDOW,
    Entity,
    matches_filter,
    partner_aggregate,
    product_event,
    status_events,
)
from app.models.catalog import Collection, Product, Variant
from app.models.instashop import Look, LookProduct, LookSlide
from app.models.orders import Order, OrderLine
from app.models.outbox import OutboxEvent
from app.models.partners import CollectionRelease, WebhookSubscription
from app.services.instashop.looks import LookView, shown_looks
from app.services.instashop.store import public_url
from app.services.partners.payloads import (
    Data,
    collection_data,
    look_data,
    order_data,
    product_data,
)
from app.settings import Settings

RELEASE_LOOKBACK = timedelta(days=1)  # older releases are not announced (a first deploy)


# How long a process keeps the subscriptions it read: every reserve, release and placed order
# asks which partners want the event, and on drop day that is thousands a second for a table
# that changes a few times a week. A change made through this process is seen at once
# (`forget_subscriptions`); other processes see it within this many seconds.
SUBSCRIPTIONS_TTL = 2.0


class _Subscriptions:
    """Every subscription, read at most once per `ttl` seconds in this process."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self._clock = ttl, clock
        self._rows: list[WebhookSubscription] | None = None
        self._until = 0.0
        self._generation = 0  # a read that began before a forget() is not kept

    async def all(self) -> list[WebhookSubscription]:
        if self._rows is not None and self._clock() < self._until:
            return self._rows
        generation, until = self._generation, self._clock() + self.ttl
        rows = list(await WebhookSubscription.all().order_by("id"))
        if generation == self._generation:
            self._rows, self._until = rows, until
        return rows

    def forget(self) -> None:
        self._rows, self._generation = None, self._generation + 1


_subscriptions = _Subscriptions(SUBSCRIPTIONS_TTL)


def forget_subscriptions() -> None:
    """A subscription was created, changed or deleted: read them afresh next time."""
    _subscriptions.forget()


async def all_subscriptions() -> list[WebhookSubscription]:
    """Every subscription, in id order, as this process last read them (at most
    `SUBSCRIPTIONS_TTL` seconds ago). Read-only: callers must not change the rows."""
    return await _subscriptions.all()


async def _subscribed(kinds: Iterable[EventKind]) -> list[WebhookSubscription]:
    wanted = {k.value for k in kinds}
    return [s for s in await all_subscriptions() if wanted & set(s.events)]


def _row(
    subscription: WebhookSubscription,
    kind: EventKind,
    entity: Entity,
    guid: str,
    payload: Data,
    now: datetime,
    due: datetime | None = None,
) -> OutboxEvent:
    return OutboxEvent(
        event_id=str(uuid.uuid4()),
        target=Target.PARTNER,
        aggregate=partner_aggregate(subscription.id, entity, guid),
        kind=kind,
        payload=payload,
        next_attempt_at=due or now,
        created_at=now,
    )


async def _write(rows: list[OutboxEvent]) -> None:
    if rows:
        await OutboxEvent.bulk_create(rows)


# --- orders ------------------------------------------------------------------------------------


async def record_order_placed(order: Order, *, now: datetime) -> None:
    """order.placed for every subscriber (call it in the order's transaction)."""
    await _record_order(order, [EventKind.ORDER_PLACED], now)


async def record_order_status(order: Order, *, now: datetime) -> None:
    """order.status_changed, and order.paid or order.cancelled when that is what it became."""
    kinds = status_events(
        paid=order.status is OrderStatus.PAID, cancelled=order.status is OrderStatus.CANCELLED
    )
    await _record_order(order, kinds, now)


async def _record_order(order: Order, kinds: Sequence[EventKind], now: datetime) -> None:
    subscriptions = await _subscribed(kinds)
    if not subscriptions:
        return
    collections: set[str | None] = set()
    if any(s.collection_guid for s in subscriptions):
        rows = await OrderLine.filter(order_id=order.id).values_list(
            "variant__product__collection__guid", flat=True
        )
        collections = {cast(str | None, guid) for guid in rows}
    data = await order_data(order)
    await _write(
        [
            _row(s, kind, Entity.ORDER, order.guid, data, now)
            for kind in kinds
            for s in subscriptions
            if kind.value in s.events and matches_filter(s.collection_guid, collections)
        ]
    )


# --- stock -------------------------------------------------------------------------------------


async def record_stock_change(variant_ids: Iterable[int], *, now: datetime) -> None:
    """variant.stock_changed for variants shoppers can see, at most one per variant, window
    and subscription (call it in the transaction that moved on-hand or the buffer)."""
    ids = sorted(set(variant_ids))
    if not ids:
        return
    subscriptions = await _subscribed([EventKind.STOCK_CHANGED])
    if not subscriptions:
        return
    variants = await Variant.filter(id__in=ids).values_list(
        "guid", "product__published", "product__collection__release_at", "product__collection__guid"
    )
    rows = []
    for guid, published, release_at, collection in variants:
        if not is_visible(published=published, release_at=release_at, now=now):
            continue
        for s in subscriptions:
            if matches_filter(s.collection_guid, [collection]) and not await _joined(s, guid, now):
                due = now + STOCK_WINDOW
                rows.append(
                    _row(s, EventKind.STOCK_CHANGED, Entity.VARIANT, guid, {"id": guid}, now, due)
                )
    await _write(rows)


async def _joined(subscription: WebhookSubscription, variant_guid: str, now: datetime) -> bool:
    # only an event still waiting out its window: one due soon may be read for sending any
    # moment, with a figure from before this change
    return await OutboxEvent.filter(
        target=Target.PARTNER,
        aggregate=partner_aggregate(subscription.id, Entity.VARIANT, variant_guid),
        state=EventState.PENDING,
        attempts=0,
        next_attempt_at__gt=now + STOCK_JOIN_MARGIN,
    ).exists()


# --- catalog -----------------------------------------------------------------------------------


async def visible_product(product: Product | None, now: datetime) -> bool | None:
    """Whether shoppers see the product now; None for a product that does not exist yet."""
    if product is None:
        return None
    release_at = None
    if product.collection_id is not None:
        collection = await Collection.get_or_none(id=product.collection_id)
        release_at = collection.release_at if collection else None
    return is_visible(published=product.published, release_at=release_at, now=now)


async def record_product_written(product_id: int, *, before: Product | None, now: datetime) -> None:
    """product.created, .updated or .withdrawn after 1C wrote the product (`before`: the row as
    it was, None for a new one), in the write's transaction."""
    kinds = (EventKind.PRODUCT_CREATED, EventKind.PRODUCT_UPDATED, EventKind.PRODUCT_WITHDRAWN)
    subscriptions = await _subscribed(kinds)
    if not subscriptions:
        return
    product = await Product.get(id=product_id)
    kind = product_event(
        await visible_product(before, now), bool(await visible_product(product, now))
    )
    if kind is not None:
        await _record_product(product, kind, subscriptions, now)


async def record_product_updated(product_id: int, *, now: datetime) -> None:
    """product.updated for a visible product whose visibility did not change (a new price)."""
    if not await _subscribed([EventKind.PRODUCT_UPDATED]):
        return
    product = await Product.get(id=product_id)
    await record_product_written(product_id, before=product, now=now)


async def _record_product(
    product: Product, kind: EventKind, subscriptions: list[WebhookSubscription], now: datetime
) -> None:
    wanting = [s for s in subscriptions if kind.value in s.events]
    collection = None
    if product.collection_id is not None:
        collection = await Collection.get_or_none(id=product.collection_id)
    guid = collection.guid if collection else None
    matching = [s for s in wanting if matches_filter(s.collection_guid, [guid])]
    if not matching:
        return
    data = await product_data(product, now)
    await _write([_row(s, kind, Entity.PRODUCT, product.guid, data, now) for s in matching])


async def record_releases(*, now: datetime) -> int:
    """collection.released, and product.created for each of its products shoppers now see,
    once per release instant (a sweep calls this every few seconds); returns how many."""
    released = await Collection.filter(
        release_at__lte=now, release_at__gt=now - RELEASE_LOOKBACK
    ).order_by("release_at", "id")
    announced = 0
    for collection in released:
        told = await CollectionRelease.exists(
            collection_guid=collection.guid, release_at=collection.release_at
        )
        if not told:
            announced += await _announce(collection, now)
    return announced


async def _announce(collection: Collection, now: datetime) -> int:
    try:
        async with in_transaction():
            await CollectionRelease.create(
                collection_guid=collection.guid, release_at=collection.release_at, announced_at=now
            )
            await _record_release(collection, now)
    except IntegrityError:
        return 0  # another worker announced it a moment ago
    return 1


async def _record_release(collection: Collection, now: datetime) -> None:
    kind = EventKind.COLLECTION_RELEASED
    subscriptions = [
        s for s in await _subscribed([kind]) if matches_filter(s.collection_guid, [collection.guid])
    ]
    data = collection_data(collection, now)
    await _write(
        [_row(s, kind, Entity.COLLECTION, collection.guid, data, now) for s in subscriptions]
    )
    linked = LookProduct.filter(product__collection_id=collection.id)
    looks = await linked.values_list("slide__look_id", flat=True)
    await record_looks_shown(cast(list[int], looks), now=now)
    listening = await _subscribed([EventKind.PRODUCT_CREATED])
    if not listening:
        return
    products = await Product.filter(collection_id=collection.id, published=True).order_by("id")
    for product in products:
        await _record_product(product, EventKind.PRODUCT_CREATED, listening, now)


# --- Instashop looks ---------------------------------------------------------------------------


async def record_slides_stored(slide_ids: Iterable[int], *, now: datetime) -> None:
    """look.published for the looks of these just-stored slides that shoppers now see."""
    ids = sorted(set(slide_ids))
    if ids and await _subscribed([EventKind.LOOK_PUBLISHED]):
        looks = await LookSlide.filter(id__in=ids).values_list("look_id", flat=True)
        await record_looks_shown(cast(list[int], looks), now=now)


async def record_looks_shown(
    look_ids: Iterable[int], *, now: datetime, again: bool = False
) -> None:
    """look.published for each of these looks shoppers see now, once per subscription and look;
    `again`: staff showed a hidden look, which is announced anew."""
    ids = sorted(set(look_ids))
    subscriptions = await _subscribed([EventKind.LOOK_PUBLISHED]) if ids else []
    if not subscriptions:
        return
    # the schema's own URLs (public_url): staff's un-hide has no media store at hand
    settings = Settings()
    rows = []
    for view in await shown_looks(await Look.filter(id__in=ids), now=now):
        collections = await _collections_of(view)
        data = look_data(view, lambda key: public_url(settings, key))
        for s in subscriptions:
            if not matches_filter(s.collection_guid, collections):
                continue
            if again or not await _announced(s, view.look.media_id):
                rows.append(
                    _row(s, EventKind.LOOK_PUBLISHED, Entity.LOOK, view.look.media_id, data, now)
                )
    await _write(rows)


async def _collections_of(view: LookView) -> list[str | None]:
    ids = {link.product.collection_id for link in view.links}
    guids = await Collection.filter(id__in=[i for i in ids if i is not None]).values_list(
        "guid", flat=True
    )
    return [cast(str, g) for g in guids]


async def _announced(subscription: WebhookSubscription, media_id: str) -> bool:
    return await OutboxEvent.filter(
        target=Target.PARTNER,
        aggregate=partner_aggregate(subscription.id, Entity.LOOK, media_id),
        kind=EventKind.LOOK_PUBLISHED,
    ).exists()
