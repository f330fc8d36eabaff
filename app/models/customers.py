"""Customers: one person across the site, the shops, the phone and Instagram."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Customer(Model):
    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True, description="1C Контрагент, CRM externalId")
    email = fields.CharField(max_length=254, null=True, unique=True)
    phone = fields.CharField(max_length=20, null=True, unique=True, description="E.164")
    phone_raw = fields.CharField(max_length=64, null=True, description="as the shopper typed it")
    first_name = fields.CharField(max_length=100, default="")
    last_name = fields.CharField(max_length=100, default="")
    # An account is a customer with a password; a guest customer has none.
    password_hash = fields.CharField(max_length=200, null=True, description="argon2id")
    email_verified_at = fields.DatetimeField(null=True)
    phone_verified_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "customer"


class CustomerSession(Model):
    """One signed-in device: a revocable refresh token (hashed), rotated on every refresh."""

    id = fields.IntField(primary_key=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="sessions", on_delete=fields.CASCADE
    )
    refresh_hash = fields.CharField(max_length=64, unique=True, description="SHA-256")
    previous_refresh_hash = fields.CharField(
        max_length=64, null=True, db_index=True, description="a reuse of it revokes the session"
    )
    access_hash = fields.CharField(max_length=64, null=True, description="the live access token")
    user_agent = fields.CharField(max_length=200, default="")
    ip = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField()
    last_used_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    customer_id: int

    class Meta:
        table = "customer_session"


class Address(Model):
    """A delivery address saved in a customer's account."""

    id = fields.IntField(primary_key=True)
    guid = fields.CharField(max_length=36, unique=True, description="the public id")
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="addresses", on_delete=fields.CASCADE
    )
    label = fields.CharField(max_length=50, default="", description="Home, Work, ...")
    recipient = fields.CharField(max_length=200, default="")
    phone = fields.CharField(max_length=20, null=True, description="E.164")
    city = fields.CharField(max_length=100)
    street = fields.CharField(max_length=300, description="street, house, building")
    apartment = fields.CharField(max_length=50, default="")
    postcode = fields.CharField(max_length=12, default="")
    comment = fields.CharField(max_length=500, default="")
    is_default = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    customer_id: int

    class Meta:
        table = "customer_address"
