"""Instashop on the storefront: looks (Instagram posts) with their products and the sizes
that can be bought now, and adding a look's chosen sizes to the cart in one call."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.dataloader import DataLoader

from app.domain.availability import available
from app.domain.checkout import CheckoutCall
from app.domain.errors import DomainError
from app.domain.instashop import SlideKind
from app.models.instashop import LookProduct as LinkRow
from app.models.instashop import LookSlide as SlideRow
from app.schema.catalog.queries import query_error
from app.schema.catalog.types import PageInfo, Product, Variant
from app.schema.checkout.resolvers import CartPayload, admitted, cart_view
from app.schema.context import Context, Info
from app.schema.errors import UserError
from app.services.instashop import cart as look_cart
from app.services.instashop import looks as service
from app.services.instashop.store import public_url


@strawberry.enum(name="LookSlideKind")
class LookSlideKind(Enum):
    IMAGE = "image"
    VIDEO = "video"


@strawberry.type
class LookImage:
    card: str = strawberry.field(description="JPEG, at most 640 px on its longest side")
    card_webp: str
    full: str = strawberry.field(description="JPEG, at most 1440 px on its longest side")
    full_webp: str
    width: int = strawberry.field(description="of the full image")
    height: int


@strawberry.type
class LookSlide:
    id: strawberry.ID
    kind: LookSlideKind
    image: LookImage = strawberry.field(description="a video's still for a video")
    video_url: str | None = strawberry.field(description="MP4, for a video")

    @classmethod
    def of(cls, row: SlideRow, info: Info) -> LookSlide:
        def url(name: str) -> str:
            return public_url(info.context.settings, row.files[name])

        image = LookImage(
            card=url("card_jpg"),
            card_webp=url("card_webp"),
            full=url("full_jpg"),
            full_webp=url("full_webp"),
            width=row.width,
            height=row.height,
        )
        video = url("video") if row.kind is SlideKind.VIDEO and "video" in row.files else None
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=LookSlideKind(row.kind.value),
            image=image,
            video_url=video,
        )


@strawberry.type
class LookHotspot:
    x: float = strawberry.field(description="0..1 from the left of the image")
    y: float = strawberry.field(description="0..1 from the top")


@strawberry.type
class LookSize:
    variant: Variant
    available: int = strawberry.field(description="units a shopper can buy now")
    sold_out: bool


@strawberry.type
class LookProduct:
    product: Product
    colour: str | None = strawberry.field(description="the colour shown, if staff chose one")
    slide_id: strawberry.ID = strawberry.field(description="the slide it is seen on")
    hotspot: LookHotspot | None
    link: strawberry.Private[LinkRow]

    @strawberry.field(description="sizes of the colour shown (else all), sold-out ones marked")
    async def sizes(self, info: Info) -> list[LookSize]:
        loaders = info.context.loaders
        rows = await loaders.variants_by_product.load(self.link.product_id)
        rows = [r for r in rows if self.colour in (None, r.colour)]
        positions = await asyncio.gather(*(loaders.stock_positions(r.id) for r in rows))
        units = [available(p) for p in positions]
        return [
            LookSize(variant=Variant.of(r), available=n, sold_out=n == 0)
            for r, n in zip(rows, units, strict=True)
        ]

    @classmethod
    def of(cls, link: LinkRow) -> LookProduct:
        spot = None if link.x is None or link.y is None else LookHotspot(x=link.x, y=link.y)
        return cls(
            product=Product.of(link.product),
            colour=link.colour,
            slide_id=strawberry.ID(str(link.slide_id)),
            hotspot=spot,
            link=link,
        )


@strawberry.type
class Look:
    id: strawberry.ID = strawberry.field(description="Instagram's media id")
    caption: str
    permalink: str = strawberry.field(description="the post on Instagram")
    posted_at: datetime
    pinned: bool
    sold_out: bool = strawberry.field(description="every item is sold out (such looks sink)")
    view: strawberry.Private[service.LookView]

    @strawberry.field
    def slides(self, info: Info) -> list[LookSlide]:
        return [LookSlide.of(s, info) for s in self.view.slides]

    @strawberry.field(description="published, released products only, in slide order")
    def products(self) -> list[LookProduct]:
        return [LookProduct.of(link) for link in self.view.links]

    @classmethod
    def of(cls, view: service.LookView) -> Look:
        look = view.look
        return cls(
            id=strawberry.ID(look.media_id),
            caption=look.caption,
            permalink=look.permalink,
            posted_at=look.posted_at,
            pinned=look.pinned,
            sold_out=view.sold_out,
            view=view,
        )


@strawberry.type
class LookEdge:
    cursor: str
    node: Look


@strawberry.type
class LookConnection:
    edges: list[LookEdge]
    page_info: PageInfo


@strawberry.input
class LookCartItemInput:
    product_guid: strawberry.ID = strawberry.field(name="productId")
    variant_guid: strawberry.ID = strawberry.field(name="variantId", description="the size")


def _connection(page: service.LookPage) -> LookConnection:
    edges = [LookEdge(cursor=v.cursor, node=Look.of(v)) for v in page.looks]
    info = PageInfo.of(
        [e.cursor for e in edges], has_next=page.has_next_page, has_previous=page.has_previous_page
    )
    return LookConnection(edges=edges, page_info=info)


async def looks_of_product(info: Info, product_id: int) -> list[Look]:
    """`Product.looks`, batched per request across the products of a page."""
    loader = _product_looks(info.context)
    return [Look.of(v) for v in await loader.load(product_id)]


def _product_looks(context: Context) -> DataLoader[int, list[service.LookView]]:
    # One loader per request, kept on the request's context (Loaders knows nothing of looks).
    loader: DataLoader[int, list[service.LookView]] | None = getattr(
        context, "_product_looks", None
    )
    if loader is None:

        async def load(ids: list[int]) -> list[list[service.LookView]]:
            return await service.looks_of_products(ids, context.now)

        loader = DataLoader(load_fn=load)
        setattr(context, "_product_looks", loader)  # noqa: B010
    return loader


@strawberry.type
class LooksQuery:
    @strawberry.field(
        description="Instashop looks: pinned first, then newest; looks whose items are all "
        "sold out last (first ≤ 50)"
    )
    async def looks(
        self,
        info: Info,
        first: int = 12,
        after: str | None = None,
        collection: Annotated[
            str | None, strawberry.argument(description="collection slug")
        ] = None,
        product_slug: str | None = None,
    ) -> LookConnection:
        try:
            page = await service.list_looks(
                first=first,
                after=after,
                now=info.context.now,
                collection_slug=collection or None,
                product_slug=product_slug,
            )
        except DomainError as error:
            raise query_error(error) from None
        return _connection(page)

    @strawberry.field(description="one look by id, if it is shown")
    async def look(self, info: Info, id: strawberry.ID) -> Look | None:
        view = await service.get_look(media_id=str(id), now=info.context.now)
        return Look.of(view) if view else None


@strawberry.type
class LooksMutation:
    @strawberry.mutation(
        description="add one unit of the chosen size of each item of a look: all of them or, "
        "with an error per item that cannot be added, none"
    )
    async def add_look_to_cart(
        self, info: Info, cart_token: str, look_id: strawberry.ID, items: list[LookCartItemInput]
    ) -> CartPayload:
        ctx = info.context
        chosen = [look_cart.LookItem(str(i.product_guid), str(i.variant_guid)) for i in items]
        try:  # a look is a cart change: the same throttle as addToCart
            row = await admitted(
                ctx,
                CheckoutCall.CHANGE_CART,
                lambda: look_cart.add_look_to_cart(
                    cart_token=cart_token,
                    look_id=str(look_id),
                    items=chosen,
                    now=ctx.now,
                    device=ctx.shopper_device,
                    queue_gate=ctx.queue_gate,  # a queued drop's items: X-Queue-Pass
                ),
            )
        except DomainError as error:
            return CartPayload.refused([UserError.from_error(error)])
        except look_cart.LookNotAdded as refused:
            return CartPayload.refused([UserError.from_error(e) for e in refused.errors])
        return CartPayload(cart=await cart_view(row, info.context.now), errors=[])
