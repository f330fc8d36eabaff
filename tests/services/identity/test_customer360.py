"""Customer 360 figures across channels, segments in SQL, and every read logged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from app.domain.errors import DomainError, ErrorCode
from app.domain.identity import Channel
from app.domain.segments import Bought, Lapsed, Segment, SpendBand
from app.models.identity import ChannelPurchase, IdentityRecord, ProfileAccess
from app.services.identity.customer360 import Lookup, customer_360
from app.services.identity.segments import segment_profiles
from tests.services.identity.helpers import (
    BOOTS_38,
    DRESS_M,
    DROP,
    NOW,
    catalog,
    link_card_to,
    shop_purchase,
    site_order,
)

pytestmark = pytest.mark.usefixtures("db")


async def test_one_persons_figures_across_the_site_and_a_shop() -> None:
    await catalog()
    order = await site_order("ann@shop.ru", DRESS_M, 2, at=NOW - timedelta(days=30))
    await shop_purchase("5001", BOOTS_38, ref="r-1", at=NOW - timedelta(days=3), amount=800_000)
    await shop_purchase("5001", BOOTS_38, ref="r-2", at=NOW, amount=800_000, is_return=True)
    await link_card_to("ann@shop.ru", "5001")

    profile = await customer_360(lookup=Lookup(email="ANN@shop.ru"), actor="crm:olga", now=NOW)

    shop, site = profile.summary.channels  # by channel name
    assert (site.channel, site.orders, site.spend_kopecks, site.returns) == (
        "site",
        1,
        order.total,
        0,
    )
    assert (site.first_at, site.last_at) == (NOW - timedelta(days=30), NOW - timedelta(days=30))
    assert (shop.channel, shop.orders, shop.spend_kopecks, shop.returns) == ("shop", 1, 0, 1)
    assert [
        (c.category, c.channel, c.units, dict(c.sizes)) for c in profile.summary.categories
    ] == [
        ("Clothes", "site", 2, {"M": 2}),
        ("Shoes", "shop", 1, {"38": 1}),
    ]
    assert (profile.summary.returns, profile.summary.returned_kopecks) == (1, 800_000)
    assert len(profile.records) == 3
    log = await ProfileAccess.get()
    assert (log.actor, log.action, log.profile_id, log.at) == (
        "crm:olga",
        "customer360",
        profile.profile_id,
        NOW,
    )


async def test_an_unknown_profile_is_a_typed_error_and_no_read_is_logged() -> None:
    with pytest.raises(DomainError) as error:
        await customer_360(lookup=Lookup(phone="+79161112233"), actor="crm", now=NOW)

    assert error.value.code is ErrorCode.NOT_FOUND
    assert await ProfileAccess.all().count() == 0


async def _segment(*rules: object) -> list[int]:
    async with in_transaction() as conn:
        return await segment_profiles(conn, Segment(tuple(rules)), NOW)  # type: ignore[arg-type]


async def test_clothes_online_but_shoes_only_in_shops() -> None:
    await catalog()
    await site_order("ann@shop.ru", DRESS_M)  # dress online, boots in a shop: in
    await shop_purchase("5001", BOOTS_38, ref="r-1")
    await link_card_to("ann@shop.ru", "5001")
    await site_order("bob@shop.ru", DRESS_M)  # boots online too: out
    await site_order("bob@shop.ru", BOOTS_38)
    await shop_purchase("5002", BOOTS_38, ref="r-2")
    await link_card_to("bob@shop.ru", "5002")
    await shop_purchase("5003", BOOTS_38, ref="r-3")  # never bought clothes online: out
    ann = (await IdentityRecord.get(external_id="5001")).profile_id

    found = await _segment(
        Bought(channels=(Channel.SITE,), category="clothes"),
        Bought(channels=(Channel.SHOP,), category="shoes"),
        Bought(
            channels=(Channel.SITE, Channel.PHONE, Channel.INSTAGRAM, Channel.OTHER),
            category="shoes",
            negate=True,
        ),
    )

    assert found == [ann]


async def test_a_drop_lapsed_customers_and_spend_bands() -> None:
    await catalog()
    await site_order("ann@shop.ru", DRESS_M, at=NOW - timedelta(days=100))
    await shop_purchase("5003", BOOTS_38, ref="r-3", at=NOW - timedelta(days=5), amount=300_000)
    ann = (await IdentityRecord.get(source="site")).profile_id
    cards = (await IdentityRecord.get(external_id="5003")).profile_id

    assert await _segment(Bought(collection=DROP)) == [ann]
    assert await _segment(Lapsed(days=90)) == [ann]
    assert await _segment(Lapsed(days=3)) == [ann, cards]
    assert await _segment(SpendBand(min_kopecks=100_000, max_kopecks=400_000)) == [cards]


async def test_a_segment_with_an_unknown_category_names_the_rule() -> None:
    with pytest.raises(DomainError) as error:
        await _segment(Lapsed(days=10), Bought(category="hats"))

    assert (error.value.code, tuple(error.value.path)) == (
        ErrorCode.UNKNOWN_CATEGORY,
        ("rules", 1, "category"),
    )


async def test_a_purchase_repeated_is_recorded_once() -> None:
    await catalog()
    await shop_purchase("5001", BOOTS_38, ref="r-1", amount=100)

    await shop_purchase("5001", BOOTS_38, ref="r-1", amount=999)

    assert [p.amount_kopecks for p in await ChannelPurchase.all()] == [100]
