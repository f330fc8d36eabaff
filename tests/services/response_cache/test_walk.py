"""An answer's tags, walked alongside its document: ids by kind, aliases and fragments, a kind
tag for an object shown without its id, the list a root runs, and answers not shared."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, parse

from app.schema import build_schema
from app.services.response_cache.walk import NotShareable, answer_tags
from app.settings import Settings


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    built: GraphQLSchema = build_schema(Settings(environment="test"))._schema
    return built


def test_a_product_page_is_tagged_by_everything_it_shows(schema: GraphQLSchema) -> None:
    document = parse(
        """query P { product(slug: "x") { id ...F collection { slug }
           variants { sku availability { warehouse { id } quantity } } } }
           fragment F on Product { category { key: id } }"""
    )
    data = {
        "product": {
            "id": "p1",
            "category": {"key": "c1"},
            "collection": {"slug": "autumn"},
            "variants": [
                {"sku": "A", "availability": [{"warehouse": {"id": "w1"}, "quantity": 1}]}
            ],
        }
    }
    assert answer_tags(schema, document, None, data) == {
        "product:p1",
        "category:c1",
        "collection:*",  # shown without its id: any collection change
        "variant:*",
        "warehouse:w1",
    }


def test_a_list_is_tagged_by_its_list_and_a_missing_product_by_the_product_list(
    schema: GraphQLSchema,
) -> None:
    lists = parse("query Q { categories { id } shops { id } }")
    data = {"categories": [{"id": "c1"}], "shops": []}
    assert answer_tags(schema, lists, None, data) == {
        "list:categories",
        "category:c1",
        "list:shops",
    }
    missing = parse('query P { product(slug: "new") { id } }')
    assert answer_tags(schema, missing, None, {"product": None}) == {"list:products"}


def test_answers_with_anything_else_are_not_shared(schema: GraphQLSchema) -> None:
    looks = parse('query L { product(slug: "x") { id looks { id } } }')
    with pytest.raises(NotShareable):
        answer_tags(schema, looks, None, {"product": {"id": "p1", "looks": [{"id": "l1"}]}})
    cart = parse('query C { cart(token: "t") { token } }')
    with pytest.raises(NotShareable):
        answer_tags(schema, cart, None, {"cart": None})
