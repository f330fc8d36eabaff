"""Catalog intake from 1C: per-item validation, stable slugs, a tree without loops."""

from __future__ import annotations

from app.domain.errors import ErrorCode
from app.models.catalog import Category, Product
from app.services.catalog import intake as catalog
from app.services.catalog.products import ProductData
from tests import factories


async def test_a_category_cannot_become_its_own_ancestor(db: str) -> None:
    a = await factories.category("A")
    b = await factories.category("B", parent=a)
    report = await catalog.upsert_categories(items=[catalog.CategoryData(a, "A", parent_guid=b)])
    assert [(p.code, p.path) for p in report.problems] == [
        (ErrorCode.INVALID, ("categories", 0, "parentGuid"))
    ]
    assert await Category.get(guid=a).values_list("parent_id", flat=True) is None


async def test_a_renamed_product_keeps_its_url(db: str) -> None:
    g = await factories.product("Linen dress")
    report = await catalog.upsert_products(
        items=[ProductData(g, "Linen midi dress", [factories.variant("Linen dress", "M", "black")])]
    )
    assert report.updated == 1
    product = await Product.get(guid=g)
    assert (product.name, product.slug) == ("Linen midi dress", "linen-dress")


async def test_two_products_with_one_name_get_distinct_slugs(db: str) -> None:
    await factories.product("Dress", variants=[factories.variant("a", "M", "black")])
    await factories.product("Dress ", variants=[factories.variant("b", "M", "black")])
    slugs = sorted(p.slug for p in await Product.all())
    assert slugs[0] == "dress" and slugs[1].startswith("dress-") and len(slugs[1]) == 14


async def test_a_sku_of_another_product_is_refused_and_nothing_is_written(db: str) -> None:
    await factories.product("First", variants=[factories.variant("First", "M", "black")])
    clash = factories.variant("First", "M", "black")
    report = await catalog.upsert_products(
        items=[ProductData(factories.guid("product/Second"), "Second", [clash])]
    )
    assert [(p.code, p.path) for p in report.problems] == [
        (ErrorCode.INVALID, ("products", 0, "variants", 0))
    ]
    assert await Product.all().count() == 1


async def test_prices_move_the_products_from_price(db: str) -> None:
    g = await factories.product(
        "Coat",
        variants=[
            factories.variant("Coat", "M", "black", "9990.00"),
            factories.variant("Coat", "L", "black", "10990.00"),
        ],
    )
    report = await catalog.update_prices(
        items=[
            catalog.PriceData(factories.guid("variant/Coat/L/black"), "7990.00", "10990.00"),
            catalog.PriceData(factories.guid("variant/none"), "1.00"),
        ]
    )
    assert report.updated == 1
    assert [p.code for p in report.problems] == [ErrorCode.UNKNOWN_VARIANT]
    assert (await Product.get(guid=g)).price_from == 799000


async def test_drop_rules_are_set_validated_and_kept_when_omitted(db: str) -> None:
    from app.models.catalog import Collection, HoldMode

    g = factories.guid("collection/Drop")
    ok = catalog.CollectionData(
        g,
        "Drop",
        factories.iso(factories.T0),
        hold_mode="at_cart",
        hold_minutes=15,
        purchase_limit=2,
    )
    bad = catalog.CollectionData(
        g, "Drop", factories.iso(factories.T0), hold_mode="always", hold_minutes=0
    )
    report = await catalog.upsert_collections(items=[ok, bad])
    assert [(p.code, p.path) for p in report.problems] == [
        (ErrorCode.INVALID, ("collections", 1, "holdMode"))
    ]
    await catalog.upsert_collections(
        items=[catalog.CollectionData(g, "Drop", factories.iso(factories.T0))]
    )
    drop = await Collection.get(guid=g)
    assert (drop.hold_mode, drop.hold_minutes, drop.purchase_limit) == (HoldMode.AT_CART, 15, 2)
