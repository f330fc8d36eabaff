"""Every code path that writes what a cached anonymous catalog answer shows invalidates its tags
after the commit. A scan of app/ finds each function that writes a catalog table (an ORM write
on a catalog model, or SQL naming its table) and fails on one this table does not know: a new
writer must either go through `catalog_changed` (and be listed with the entry point whose tags
a test below checks) or say why no shared answer shows what it writes.

The scan sees ORM calls on the model classes and SQL text; an instance `.save()` is caught when
the instance is named after its model (`product.save()`), which is how this code base names
them."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services.catalog import intake
from tests import factories
from tests.services.response_cache.test_invalidation import RecordingBook, book  # noqa: F401

APP = Path(__file__).resolve().parents[3] / "app"
CATALOG_MODELS = {"Product", "ProductImage", "Variant", "Collection", "Category", "Warehouse"}
CATALOG_TABLES = "product|product_image|variant|collection|category|warehouse"
INSTANCE_NAMES = {"product", "variant", "collection", "category", "warehouse", "image", "shop"}
WRITES = {
    "create",
    "update",
    "delete",
    "save",
    "bulk_create",
    "bulk_update",
    "update_or_create",
    "get_or_create",
}
SQL_WRITE = re.compile(rf"\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+({CATALOG_TABLES})\b", re.I)
SKIPPED = ("migrations/", "models/")  # the schema itself, and the models' own definitions

INTAKE = "app/services/catalog/intake.py"
PRODUCTS = "app/services/catalog/products.py"
# writer (module, function) -> how its change reaches the cache
WRITERS = {
    (INTAKE, "_write_warehouse"): "upsert_warehouses: warehouse_written after each commit",
    (INTAKE, "_write_category"): "upsert_categories: category_written after each commit",
    (INTAKE, "_write_collection"): "upsert_collections: collection_written after each commit",
    (INTAKE, "_write_price"): "update_prices: price_written after each commit",
    (PRODUCTS, "write_product"): "upsert_products: product_written after each commit",
    (PRODUCTS, "_write_variants"): "upsert_products (write_product)",
    (PRODUCTS, "_replace_images"): "upsert_products (write_product)",
    (PRODUCTS, "refresh_price_from"): "upsert_products and update_prices",
    # shown nowhere shareable: a Slack channel and who is on duty are admin-only fields
    ("app/services/shops/settings.py", "set_shop_slack"): "no shared answer shows it",
}


def _root(node: ast.expr) -> ast.expr:
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Await):
            node = node.value
        else:
            return node


def _querysets(function: ast.AST) -> set[str]:
    """Names bound to a catalog model's query (`query = Warehouse.filter(...)`)."""
    return {
        target.id
        for node in ast.walk(function)
        if isinstance(node, ast.Assign)
        and isinstance(root := _root(node.value), ast.Name)
        and root.id in CATALOG_MODELS
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _writes_catalog(call: ast.Call, querysets: set[str]) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in WRITES:
        return False
    root = _root(func.value)
    if not isinstance(root, ast.Name):
        return False
    instance_save = func.attr == "save" and root.id in INSTANCE_NAMES and not call.args
    return root.id in CATALOG_MODELS | querysets or instance_save  # Pillow's save has a file


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def catalog_writers() -> set[tuple[str, str]]:
    """(module, function) of every function in app/ that writes a catalog table."""
    found: set[tuple[str, str]] = set()
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP.parent).as_posix()
        if any(part in relative for part in SKIPPED):
            continue
        tree = ast.parse(path.read_text(), filename=relative)
        for function in _functions(tree):
            querysets = _querysets(function)
            for node in ast.walk(function):
                orm = isinstance(node, ast.Call) and _writes_catalog(node, querysets)
                sql = (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and SQL_WRITE.search(node.value) is not None
                )
                if orm or sql:
                    found.add((relative, function.name))
    return found


def test_every_catalog_writer_is_known_and_says_how_the_cache_hears_of_it() -> None:
    found = catalog_writers()
    unknown = sorted(found - WRITERS.keys())
    assert unknown == [], (
        "a new writer of catalog data: call app.services.response_cache.invalidation."
        "catalog_changed(tags) after its commit, then list it in WRITERS with a test of its tags"
    )
    assert sorted(WRITERS.keys() - found) == []  # a writer gone: drop it from the table


def test_the_scan_sees_orm_writes_instance_saves_and_sql() -> None:
    source = (
        "async def a():\n    await Product.filter(id=1).update(name='x')\n"
        "async def b(product):\n    await product.save()\n"
        "async def c(conn):\n    await conn.execute_query('UPDATE variant SET price = 1')\n"
        "async def d():\n    await Product.filter(id=1).values_list('id')\n"
        "async def e():\n    query = Warehouse.filter(id=1)\n    await query.update(name='x')\n"
    )
    tree = ast.parse(source)
    writing = {
        f.name
        for f in _functions(tree)
        for n in ast.walk(f)
        if (isinstance(n, ast.Call) and _writes_catalog(n, _querysets(f)))
        or (isinstance(n, ast.Constant) and isinstance(n.value, str) and SQL_WRITE.search(n.value))
    }
    assert writing == {"a", "b", "c", "e"}


def test_the_modules_of_invalidating_writers_call_the_one_helper() -> None:
    # intake's `_each` calls catalog_changed after each item's transaction; products.py is
    # only reached through it (write_product is passed to `_each` by upsert_products)
    intake_source = (APP.parent / INTAKE).read_text()
    assert "await catalog_changed(changed(clean))" in intake_source
    assert "write_product,\n" in intake_source
    products_source = (APP.parent / PRODUCTS).read_text()
    assert "in_transaction" not in products_source  # it owns no commit of its own


@pytest.mark.parametrize(
    "entry",
    ["warehouses", "categories", "collections", "products", "prices", "collection_moved"],
)
async def test_each_entry_point_bumps_the_tags_of_what_it_wrote(
    book: RecordingBook,  # noqa: F811
    entry: str,
) -> None:
    # given a catalog with one product in a collection and a category
    await factories.warehouses()
    category = await factories.category("Dresses")
    collection = await factories.collection("Autumn", factories.T0)
    product = await factories.product(
        "Linen dress", category_guid=category, collection_guid=collection
    )
    variant = factories.guid("variant/Linen dress/M/black")
    book.bumped.clear()

    # when one entry point writes
    expected: list[set[str]]
    if entry == "warehouses":
        await factories.warehouses()
        shown = (factories.ONLINE, factories.SHOP_A, factories.SHOP_B, factories.CLOSED)
        expected = [{"list:shops", "stock:*", f"warehouse:{w}", "warehouse:*"} for w in shown]
    elif entry == "categories":
        await factories.category("Dresses")
        expected = [{"list:categories", "list:products", f"category:{category}", "category:*"}]
    elif entry in ("collections", "collection_moved"):
        release = factories.T0 if entry == "collections" else factories.later(60 * 24)
        await factories.collection("Autumn", release)
        expected = [
            {"list:collections", "list:products", f"collection:{collection}", "collection:*"}
        ]
    elif entry == "products":
        await factories.product("Linen dress", category_guid=category, collection_guid=collection)
        expected = [
            {"list:products", f"product:{product}", "product:*", f"variant:{variant}", "variant:*"}
        ]
    else:
        await intake.update_prices(items=[intake.PriceData(variant, "100.00")])
        expected = [{"list:products", f"variant:{variant}", "variant:*"}]

    # then exactly the tags of what it wrote are bumped, once per committed item
    assert book.bumped == expected
