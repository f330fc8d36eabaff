"""Tortoise models, grouped by aggregate. Persistence only: fields, Meta, named queries."""

MODEL_MODULES = [
    "app.models.catalog",
    "app.models.stock",
    "app.models.checkout",
    "app.models.orders",
    "app.models.customers",
    "app.models.outbox",
    "app.models.auth",
    "app.models.shops",
    "app.models.partners",
    "app.models.instashop",
    "app.models.channels",
    "app.models.identity",
]
