"""What the RetailCRM simulator accepts in an entity: the account's codes and each field's check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.devtools.simulators import checks

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Dictionaries:
    """The account's codes (a fresh account's defaults)."""

    order_statuses: frozenset[str] = frozenset(
        {"new", "client-confirmed", "prepayed", "assembling", "assembling-complete"}
        | {"send-to-delivery", "delivering", "complete", "partially-completed", "return"}
        | {"cancel-other", "no-product"}
    )
    payment_types: frozenset[str] = frozenset({"bank-card", "cash", "bank-transfer", "credit"})
    payment_statuses: frozenset[str] = frozenset(
        {"not-paid", "invoice", "payment-start", "paid", "fail", "canceled", "returned"}
    )
    delivery_types: frozenset[str] = frozenset({"courier", "self-delivery", "russian-post"})
    order_methods: frozenset[str] = frozenset(
        {"shopping-cart", "phone", "one-click", "app", "messenger"}
    )


def email(value: Any, path: str) -> None:
    if not isinstance(value, str) or not EMAIL.match(value):
        raise checks.Invalid(path, f"not an email: {value!r}")


def positive(value: Any, path: str) -> None:
    checks.number(value, path)
    if value <= 0:
        raise checks.Invalid(path, "must be greater than 0")


CUSTOMER_FIELDS: dict[str, checks.Check] = {
    "firstName": checks.text,
    "lastName": checks.text,
    "email": email,
    "phones": checks.list_of(checks.shape({"number": checks.filled})),
    "createdAt": checks.local_datetime,
}


def flag(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        raise checks.Invalid(path, "must be true or false")


def email_or_blank(value: Any, path: str) -> None:
    """An edit clears the address with an empty value."""
    if value != "":
        email(value, path)


def custom_fields(value: Any, path: str) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
        raise checks.Invalid(path, "must be an object keyed by custom field codes")


# Consents (customerSubscriptions, emailMarketingUnsubscribedAt), a segment export's custom
# field, and an erasure's blanks (app/integrations/retailcrm/identity.py).
CUSTOMER_EDIT_FIELDS: dict[str, checks.Check] = {
    "email": email_or_blank,
    "patronymic": checks.text,
    "customerSubscriptions": checks.list_of(
        checks.shape(
            {"channel": checks.filled, "subscribed": flag, "changedAt": checks.local_datetime}
        )
    ),
    "emailMarketingUnsubscribedAt": checks.nullable(checks.local_datetime),
    "customFields": custom_fields,
}
ITEM = checks.shape(
    {
        "offer": checks.shape({"externalId": checks.filled}),
        "quantity": positive,
        "initialPrice": checks.number,
    },
    {"productName": checks.text},
)


def order_fields(d: Dictionaries) -> dict[str, checks.Check]:
    delivery = {
        "code": checks.one_of(d.delivery_types),
        "cost": checks.number,
        "address": checks.shape({"text": checks.text}),
    }
    return {
        "number": checks.filled,
        "createdAt": checks.local_datetime,
        "firstName": checks.text,
        "lastName": checks.text,
        "phone": checks.text,
        "email": email,
        "customer": checks.shape({"externalId": checks.filled}),
        "items": checks.list_of(ITEM),
        "delivery": checks.shape({}, delivery),
        "status": checks.one_of(d.order_statuses),
        "statusComment": checks.text,
        "orderMethod": checks.one_of(d.order_methods),
        "customerComment": checks.text,
        "payments": checks.list_of(
            checks.shape({"type": checks.one_of(d.payment_types)}, payment_fields(d))
        ),
    }


def payment_fields(d: Dictionaries) -> dict[str, checks.Check]:
    return {
        "externalId": checks.filled,
        "amount": checks.number,
        "type": checks.one_of(d.payment_types),
        "status": checks.one_of(d.payment_statuses),
        "paidAt": checks.local_datetime,
        "comment": checks.text,
    }
