"""The planned checkout mutations (app/schema/checkout/fast.py) answer as graphql-core does.

Each step is sent twice, on two carts in the same state: once where the plan answers, once
with the plan switched off (strawberry and graphql-core answer); the responses must be equal,
status, content type and cache policy included (cart and order tokens and order numbers
aside, which differ by construction)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.schema.checkout import fast
from app.settings import Settings
from tests import factories
from tests.conftest import Clock

SHIRT = factories.guid("variant/Shirt/M/white")
ERRORS = "errors { __typename code path message available retryAfter }"
CREATE = f"mutation {{ createCart {{ cart {{ token email }} {ERRORS} }} }}"
ADD = f"""mutation A($c: String!, $v: ID!, $q: Int! = 1) {{
  addToCart(cartToken: $c, variantId: $v, quantity: $q) {{ cart {{ token }} {ERRORS} }} }}"""
CONTACT = f"""mutation C($c: String!, $contact: ContactInput!) {{
  setCartContact(cartToken: $c, contact: $contact) {{ cart {{ token email phone }} {ERRORS} }}
}}"""
DELIVERY = f"""mutation D($c: String!, $d: DeliveryInput!) {{
  setCartDelivery(cartToken: $c, delivery: $d) {{ cart {{ token }} {ERRORS} }} }}"""
PLACE = f"""mutation P($c: String!, $k: String!) {{
  placeOrder(cartToken: $c, idempotencyKey: $k) {{
    order {{ number token status email }} {ERRORS} }} }}"""
COURIER = {"method": "COURIER", "address": "1 Test Street"}
# (document, variables; "$cart" stands for the run's cart token, "$key" for its order key)
STEPS: list[tuple[str, dict[str, Any]]] = [
    (ADD, {"c": "no-such-cart", "v": SHIRT}),  # CART_NOT_FOUND
    (ADD, {"c": "$cart", "v": factories.guid("variant/None")}),  # NOT_FOUND
    (ADD, {"c": "$cart", "v": SHIRT, "q": 0}),  # INVALID quantity
    (ADD, {"c": "$cart", "v": SHIRT, "q": 50}),  # INSUFFICIENT_STOCK, available 5
    (ADD, {"c": "bad\x00token", "v": SHIRT}),  # ValidateInput: refused in the payload
    (ADD, {"c": "$cart", "v": SHIRT, "q": "many"}),  # variables refused: graphql-core's error
    (ADD, {"c": "$cart", "v": SHIRT}),
    (PLACE, {"c": "$cart", "k": "$key"}),  # not ready: no contact, no delivery
    (CONTACT, {"c": "$cart", "contact": {}}),  # CONTACT_REQUIRED
    (CONTACT, {"c": "$cart", "contact": {"phone": "8 916 123-45-67", "firstName": "A"}}),
    (DELIVERY, {"c": "$cart", "d": {"method": "COURIER"}}),  # DELIVERY_REQUIRED
    (DELIVERY, {"c": "$cart", "d": {"method": "PICKUP", "shopId": "nope"}}),  # NOT_FOUND
    (DELIVERY, {"c": "$cart", "d": COURIER}),
    (PLACE, {"c": "$cart", "k": "short"}),  # the key is too short
    (PLACE, {"c": "$cart", "k": "$key"}),
    (PLACE, {"c": "$cart", "k": "$key"}),  # the same key: the same order
    (PLACE, {"c": "$cart", "k": "$other"}),  # another key, the cart is empty now
]


@dataclass
class Answer:
    status: int
    content_type: str | None
    cache_control: str | None
    body: Any


def _masked(value: Any) -> Any:
    """The body with what differs between two carts by construction replaced."""
    if isinstance(value, dict):
        return {
            k: f"<{k}>" if k in {"token", "number"} and v is not None else _masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


class Shopper:
    """One shopper's cart, sent through one path."""

    def __init__(self, client: httpx.AsyncClient, device: str) -> None:
        self.client, self.device = client, device
        self.cart, self.key, self.other = "", uuid.uuid4().hex, uuid.uuid4().hex
        self.last: Any = None

    async def send(self, document: str, variables: dict[str, Any]) -> Answer:
        given = {"$cart": self.cart, "$key": self.key, "$other": self.other}
        sent = {k: given.get(v, v) if isinstance(v, str) else v for k, v in variables.items()}
        response = await self.client.post(
            "/graphql",
            json={"query": document, "variables": sent},
            headers={"X-Device-Id": self.device},
        )
        self.last = response.json()
        return Answer(
            response.status_code,
            response.headers.get("content-type"),
            response.headers.get("cache-control"),
            _masked(self.last),
        )

    async def start(self) -> Answer:
        answer = await self.send(CREATE, {})
        self.cart = self.last["data"]["createCart"]["cart"]["token"]
        return answer


class Switch:
    """Counts what the plan answered; `general()` turns it off for a while."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answered, self.on = 0, True
        planned = fast.FastMutations.answer

        async def answer(self_: fast.FastMutations, request: Any, view: Any) -> Any:
            if not self.on:
                return None
            response = await planned(self_, request, view)
            self.answered += response is not None
            return response

        monkeypatch.setattr(fast.FastMutations, "answer", answer)

    @contextmanager
    def general(self) -> Iterator[None]:
        self.on = False
        try:
            yield
        finally:
            self.on = True


@pytest.fixture
def switch(monkeypatch: pytest.MonkeyPatch) -> Switch:
    return Switch(monkeypatch)


async def _shop(clock: Clock) -> None:
    await factories.warehouses()
    drop = await factories.collection("Autumn", clock.now - timedelta(days=1))
    await factories.product(
        "Shirt",
        collection_guid=drop,
        variants=[factories.variant("Shirt", "M", "white", "2990.00")],
    )
    await factories.stock(SHIRT, factories.ONLINE, 5)


async def _both(switch: Switch, planned: Shopper, general: Shopper, step: Any) -> None:
    document, variables = step
    mine = await planned.send(document, variables)
    with switch.general():
        theirs = await general.send(document, variables)
    assert mine == theirs, (variables, mine, theirs)


async def test_every_step_of_checkout_answers_as_graphql_core_does(
    client: httpx.AsyncClient, clock: Clock, switch: Switch
) -> None:
    # given a shirt with 5 units online and two shoppers, each with a new cart
    await _shop(clock)
    planned, general = Shopper(client, str(uuid.uuid4())), Shopper(client, str(uuid.uuid4()))
    created = await planned.start()
    with switch.general():
        assert await general.start() == created
    # when each goes through every refusal and then checkout, one planned, one not
    for step in STEPS:
        await _both(switch, planned, general, step)
    # then every answer was the same, and the plan answered all but the refused variables
    assert switch.answered == 1 + len(STEPS) - 1


@pytest.fixture
async def throttled(
    db: str, settings: Settings, redis_url: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with checkout throttles on: one createCart a minute per device."""
    strict = settings.model_copy(
        update={"checkout_throttles": True, "throttle_create_cart_per_device": 1}
    )
    app = create_app(strict, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            yield c


async def test_a_throttled_call_is_refused_as_graphql_core_refuses_it(
    throttled: httpx.AsyncClient, switch: Switch
) -> None:
    # given two devices that each created their one cart of the minute
    planned = Shopper(throttled, str(uuid.uuid4()))
    general = Shopper(throttled, str(uuid.uuid4()))
    await planned.send(CREATE, {})
    with switch.general():
        await general.send(CREATE, {})
    # when each asks for another, one planned, one not
    mine = await planned.send(CREATE, {})
    with switch.general():
        theirs = await general.send(CREATE, {})
    # then both are refused alike, with retryAfter
    assert mine == theirs
    assert mine.body["data"]["createCart"]["errors"][0]["code"] == "TOO_MANY_ATTEMPTS"
    assert mine.body["data"]["createCart"]["errors"][0]["retryAfter"] == 60
    assert switch.answered == 2


async def test_a_registered_document_with_fields_it_does_not_model_goes_the_general_way(
    client: httpx.AsyncClient, switch: Switch
) -> None:
    # given the storefront's CreateCart (its cart fragment reads lines, totals and holds)
    from tests.contract.documents import document

    # when it is sent
    response = await client.post("/graphql", json={"query": document("CreateCart")})
    # then graphql-core answered it
    assert response.json()["data"]["createCart"]["errors"] == []
    assert switch.answered == 0


async def test_a_mutation_over_the_cost_limit_is_refused_as_graphql_core_refuses_it(
    db: str, settings: Settings, redis_url: str, clock: Clock, switch: Switch
) -> None:
    # given a cost limit below what createCart with its cart costs
    tight = settings.model_copy(update={"max_query_cost": 1})
    app = create_app(tight, redis_url=redis_url, manage_db=False, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vitrina.test") as c:
            # when it is sent, with the plan on and with it off
            mine = await Shopper(c, str(uuid.uuid4())).send(CREATE, {})
            with switch.general():
                theirs = await Shopper(c, str(uuid.uuid4())).send(CREATE, {})
    # then both are the general path's refusal and no cart was made by the plan
    assert mine == theirs
    assert mine.body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert switch.answered == 0
