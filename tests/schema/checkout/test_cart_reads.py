"""A cart's lines are read only when the selection asks for them, and then once."""

from __future__ import annotations

import httpx

from tests import factories
from tests.conftest import QueryCounter, graphql

DRESS = factories.guid("variant/Dress/M/black")
ADD = """mutation A($cart: String!, $variant: ID!, $cartFields: Boolean!) {
  addToCart(cartToken: $cart, variantId: $variant, quantity: 1) {
    cart { token lines @include(if: $cartFields) { quantity available } total @include(if: $cartFields) { amount } }
    errors { code }
  } }"""  # noqa: E501


async def _added(
    client: httpx.AsyncClient, counter: QueryCounter, cart: str, *, cart_fields: bool
) -> int:
    counter.statements.clear()
    variables = {"cart": cart, "variant": DRESS, "cartFields": cart_fields}
    body = await graphql(client, ADD, variables)
    assert body["data"]["addToCart"]["errors"] == [], body
    return len(counter.statements)


async def test_a_cart_asked_for_its_token_alone_reads_no_line(
    client: httpx.AsyncClient, sql_counter: QueryCounter
) -> None:
    # given a variant in stock and a cart
    await factories.warehouses()
    await factories.product("Dress", variants=[factories.variant("Dress", "M", "black")])
    await factories.stock(DRESS, factories.ONLINE, 5)
    created = await graphql(client, "mutation { createCart { cart { token } } }")
    cart = created["data"]["createCart"]["cart"]["token"]

    # when a unit is added asking for the token only, then again asking for lines and total
    bare = await _added(client, sql_counter, cart, cart_fields=False)
    full = await _added(client, sql_counter, cart, cart_fields=True)

    # then the first costs addToCart's statements alone; the second also reads the line's
    # holds (to give them back before the new quantity), the lines with their variants, the
    # lines' holds, and the lines' stock for `available` (the request's loaders)
    assert bare == 6
    assert full == bare + 1 + 2 + 3, sql_counter.statements
