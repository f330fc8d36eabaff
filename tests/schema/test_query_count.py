"""No N+1: a catalog page, an account's orders and an order page cost the same number of SQL
statements whatever their size."""

from __future__ import annotations

import httpx

from app.domain.access import Scope
from app.integrations.payments.dummy import DECLINED, SUCCEEDS
from tests import factories
from tests.conftest import Clock, QueryCounter, graphql
from tests.contract.documents import document, fragment_text
from tests.schema.accounts.flows import flush_redis, sign_up

PAGE = """
query Page($first: Int!) {
  products(first: $first) {
    edges { node {
      slug name priceFrom { amount } available
      category { slug parent { slug } } collection { slug releaseAt }
      images { url }
      variants { sku size colour price { amount } oldPrice { amount } available
                 availability { warehouse { id name kind } quantity } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _catalog(products: int) -> None:
    await factories.warehouses()
    parent = await factories.category("Women")
    cat = await factories.category("Dresses", parent=parent)
    col = await factories.collection("Autumn", factories.T0)
    for n in range(products):
        name = f"Dress {n}"
        sizes = ["S", "M", "L"]
        await factories.product(
            name,
            category_guid=cat,
            collection_guid=col,
            variants=[factories.variant(name, s, "black") for s in sizes],
        )
        for s in sizes:
            await factories.stock(
                factories.guid(f"variant/{name}/{s}/black"), factories.SHOP_A, n % 3
            )


async def _statements(client: httpx.AsyncClient, counter: QueryCounter, first: int) -> int:
    counter.statements.clear()
    body = await graphql(client, PAGE, {"first": first})
    assert "errors" not in body, body
    assert len(body["data"]["products"]["edges"]) == first
    return len(counter.statements)


async def test_a_24_product_page_costs_as_many_queries_as_a_2_product_page(
    client: httpx.AsyncClient, clock: Clock, sql_counter: QueryCounter
) -> None:
    await _catalog(26)
    small = await _statements(client, sql_counter, 2)
    full = await _statements(client, sql_counter, 24)
    assert full == small
    # products, variants, warehouses, stock levels, expired holds, images, collections,
    # categories (×2 levels)
    assert full <= 9, sql_counter.statements


# --- orders ------------------------------------------------------------------------------

# The account's orders in full: the status page's fragment, and every refund of every payment.
MY_ORDERS_IN_FULL = "\n".join(
    [
        """query MyOrdersInFull($first: Int!) { me { orders(first: $first) { nodes {
          ...OrderFields
          payments { refunded { amount } paidAt cancellationReason
                     refunds { id status amount { amount } reason createdAt } }
        } } } }""",
        fragment_text("OrderFields"),
        fragment_text("OrderLineFields"),
    ]
)


async def _order_on_sale(names: list[str]) -> list[tuple[str, int]]:
    """Products with one unit online and one in shop A: two units come from two warehouses."""
    lines = []
    for name in names:
        await factories.product(name, variants=[factories.variant(name, "M", "black")])
        await factories.stock(factories.guid(f"variant/{name}/M/black"), factories.ONLINE, 1)
        await factories.stock(factories.guid(f"variant/{name}/M/black"), factories.SHOP_A, 1)
        lines.append((factories.guid(f"variant/{name}/M/black"), 2))
    return lines


async def _paid_order(
    client: httpx.AsyncClient, clock: Clock, names: list[str], email: str, finance: str
) -> str:
    """An order of two units of each product, a declined then a successful payment, a refund."""
    cart = await factories.cart_with(await _order_on_sale(names), now=clock.now, email=email)
    order = (await factories.place(cart, now=clock.now)).order
    for key, card in (("declined-attempt", DECLINED), ("second-attempt", SUCCEEDS)):
        variables = {"orderToken": order.token, "idempotencyKey": key, "cardNumber": card}
        paid = await graphql(client, document("PayOrder"), variables)
        assert "errors" not in paid, paid
    payment = paid["data"]["payOrder"]["payment"]["id"]
    variables = {
        "paymentId": payment,
        "amount": "100.00",
        "reason": "scuffed",
        "idempotencyKey": "first-refund",
    }
    refund = await graphql(client, document("AdminRefundPayment"), variables, finance)
    assert refund["data"]["refundPayment"]["errors"] == [], refund
    return order.token


async def _customer_with_orders(
    client: httpx.AsyncClient, clock: Clock, email: str, orders: int, finance: str
) -> str:
    for n in range(orders):
        await _paid_order(
            client, clock, [f"{email} dress {n}", f"{email} skirt {n}"], email, finance
        )
    tokens = await sign_up(client, email)
    access: str = tokens["accessToken"]
    return access


async def _my_orders_statements(
    client: httpx.AsyncClient, counter: QueryCounter, token: str
) -> int:
    counter.statements.clear()
    body = await graphql(client, MY_ORDERS_IN_FULL, {"first": 20}, token)
    assert "errors" not in body, body
    for order in body["data"]["me"]["orders"]["nodes"]:
        assert [len(line["allocations"]) for line in order["lines"]] == [2, 2]
        assert [p["status"] for p in order["payments"]][1:] == ["SUCCEEDED"]  # a declined one first
        assert [len(p["refunds"]) for p in order["payments"]] == [0, 1]
        assert [h["toStatus"] for h in order["history"]] == ["AWAITING_PAYMENT", "PAID"]
    return len(counter.statements)


async def test_five_orders_in_full_cost_as_many_queries_as_one(
    client: httpx.AsyncClient, clock: Clock, sql_counter: QueryCounter, redis_url: str
) -> None:
    await flush_redis(redis_url)
    await factories.warehouses()
    finance = await factories.token(Scope.PAYMENTS_WRITE)
    one = await _customer_with_orders(client, clock, "anna@example.com", 1, finance)
    five = await _customer_with_orders(client, clock, "boris@example.com", 5, finance)
    small = await _my_orders_statements(client, sql_counter, one)
    large = await _my_orders_statements(client, sql_counter, five)
    assert large == small, sql_counter.statements
    # customer, orders, lines, variants, reservations, warehouses, history, payments, refunds
    assert large == 13, sql_counter.statements  # 3 of them: the lines' states; 1 the shipments


async def _status_page_statements(
    client: httpx.AsyncClient, counter: QueryCounter, token: str, lines: int
) -> int:
    counter.statements.clear()
    body = await graphql(client, document("OrderStatusPage"), {"token": token})
    assert "errors" not in body, body
    order = body["data"]["order"]
    assert [len(line["allocations"]) for line in order["lines"]] == [2] * lines
    assert [p["status"] for p in order["payments"]][1:] == ["SUCCEEDED"]  # a declined one first
    return len(counter.statements)


async def test_a_four_line_order_page_costs_as_many_queries_as_a_one_line_page(
    client: httpx.AsyncClient, clock: Clock, sql_counter: QueryCounter
) -> None:
    await factories.warehouses()
    finance = await factories.token(Scope.PAYMENTS_WRITE)
    one = await _paid_order(client, clock, ["Dress"], "anna@example.com", finance)
    four = [f"Dress {n}" for n in range(4)]
    many = await _paid_order(client, clock, four, "boris@example.com", finance)
    small = await _status_page_statements(client, sql_counter, one, 1)
    large = await _status_page_statements(client, sql_counter, many, 4)
    assert large == small, sql_counter.statements
    # order, lines, variants, reservations, warehouses, history, payments
    assert large == 11, sql_counter.statements  # 3 of them: the lines' states; 1 the shipment
