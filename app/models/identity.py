"""The identity graph's tables: source records as they came, links, suggestions, purchases
made outside our site, the consent ledger, and the log of who read a profile."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from app.domain.identity import (
    Channel,
    CustomerSource,
    Identifier,
    LinkRemoval,
    LinkRule,
    SuggestionState,
)
from app.models.catalog import Variant
from app.models.customers import Customer


class IdentityRecord(Model):
    """One customer record from one source, as it came (plus its cleaned identifiers)."""

    id = fields.IntField(primary_key=True)
    source = fields.CharEnumField(CustomerSource, max_length=16)
    external_id = fields.CharField(max_length=100, description="the id in its source")
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="identity_records", null=True, on_delete=fields.SET_NULL
    )
    profile_id = fields.IntField(db_index=True, description="smallest record id of its group")
    name = fields.CharField(max_length=200, null=True)
    phone = fields.CharField(max_length=20, null=True, db_index=True, description="E.164")
    phone_raw = fields.CharField(max_length=64, null=True, description="as the source had it")
    phone_verified = fields.BooleanField(default=False)
    email = fields.CharField(max_length=254, null=True, db_index=True, description="lower case")
    email_raw = fields.CharField(max_length=254, null=True)
    email_verified = fields.BooleanField(default=False)
    loyalty_card = fields.CharField(max_length=32, null=True, db_index=True)
    onec_guid = fields.CharField(max_length=36, null=True, db_index=True)
    retailcrm_id = fields.CharField(max_length=64, null=True, db_index=True)
    actor = fields.CharField(max_length=100, description="who last wrote it")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    erased_at = fields.DatetimeField(null=True, description="personal data removed on request")

    customer_id: int | None

    class Meta:
        table = "identity_record"
        unique_together = (("source", "external_id"),)


IDENTIFIER_COLUMN: dict[Identifier, str] = {
    Identifier.ONEC_GUID: "onec_guid",
    Identifier.RETAILCRM_ID: "retailcrm_id",
    Identifier.LOYALTY_CARD: "loyalty_card",
    Identifier.PHONE: "phone",
    Identifier.EMAIL: "email",
}


class IdentityLink(Model):
    """Two records are one person, and why: removed links stay (an unmerge is never redone)."""

    id = fields.IntField(primary_key=True)
    left: fields.ForeignKeyRelation[IdentityRecord] = fields.ForeignKeyField(
        "models.IdentityRecord", related_name="links_left", on_delete=fields.CASCADE
    )
    right: fields.ForeignKeyRelation[IdentityRecord] = fields.ForeignKeyField(
        "models.IdentityRecord", related_name="links_right", on_delete=fields.CASCADE
    )
    rule = fields.CharEnumField(LinkRule, max_length=16)
    value = fields.CharField(max_length=254, default="", db_index=True)
    source = fields.CharField(max_length=16, description="the observation that made it")
    actor = fields.CharField(max_length=100)
    created_at = fields.DatetimeField()
    removed_at = fields.DatetimeField(null=True)
    removed_by = fields.CharField(max_length=100, null=True)
    removed_reason = fields.CharEnumField(LinkRemoval, max_length=16, null=True)
    removed_source = fields.CharField(
        max_length=16, null=True, description="the observation that removed it"
    )

    left_id: int
    right_id: int

    class Meta:
        table = "identity_link"


class IdentitySuggestion(Model):
    """A match on data nobody verified: staff accept (a STAFF link) or dismiss it."""

    id = fields.IntField(primary_key=True)
    left: fields.ForeignKeyRelation[IdentityRecord] = fields.ForeignKeyField(
        "models.IdentityRecord", related_name="suggestions_left", on_delete=fields.CASCADE
    )
    right: fields.ForeignKeyRelation[IdentityRecord] = fields.ForeignKeyField(
        "models.IdentityRecord", related_name="suggestions_right", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(Identifier, max_length=16)
    value = fields.CharField(max_length=254, default="")
    state = fields.CharEnumField(SuggestionState, max_length=16, db_index=True)
    created_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    decided_by = fields.CharField(max_length=100, null=True)

    left_id: int
    right_id: int

    class Meta:
        table = "identity_suggestion"
        unique_together = (("left", "right", "kind"),)


class ChannelPurchase(Model):
    """A purchase or a return outside our site orders (a shop receipt, an order a manager took)."""

    id = fields.IntField(primary_key=True)
    record: fields.ForeignKeyRelation[IdentityRecord] = fields.ForeignKeyField(
        "models.IdentityRecord", related_name="purchases", on_delete=fields.RESTRICT
    )
    channel = fields.CharEnumField(Channel, max_length=16)
    external_ref = fields.CharField(max_length=100)
    at = fields.DatetimeField(db_index=True)
    is_return = fields.BooleanField(default=False)
    amount_kopecks = fields.BigIntField(description="sum of the lines, negative on a return")
    created_at = fields.DatetimeField()

    record_id: int

    class Meta:
        table = "channel_purchase"
        unique_together = (("channel", "external_ref"),)


class ChannelPurchaseLine(Model):
    id = fields.IntField(primary_key=True)
    purchase: fields.ForeignKeyRelation[ChannelPurchase] = fields.ForeignKeyField(
        "models.ChannelPurchase", related_name="lines", on_delete=fields.CASCADE
    )
    variant: fields.ForeignKeyNullableRelation[Variant] = fields.ForeignKeyField(
        "models.Variant", related_name="channel_lines", null=True, on_delete=fields.SET_NULL
    )
    quantity = fields.IntField()
    amount_kopecks = fields.BigIntField()

    purchase_id: int
    variant_id: int | None

    class Meta:
        table = "channel_purchase_line"


class ConsentEvent(Model):
    """One grant or withdrawal, with its proof. Append-only: the current state is derived."""

    id = fields.IntField(primary_key=True)
    record: fields.ForeignKeyRelation[IdentityRecord] = fields.ForeignKeyField(
        "models.IdentityRecord", related_name="consents", on_delete=fields.RESTRICT
    )
    purpose = fields.CharField(max_length=16, description="personal_data | marketing")
    channel = fields.CharField(max_length=16, null=True, description="marketing only")
    granted = fields.BooleanField()
    text_version = fields.CharField(max_length=64, description="version of the document")
    source = fields.CharField(max_length=16, description="site, shop, retailcrm, staff")
    device = fields.CharField(max_length=200, default="", description="user agent or shop")
    actor = fields.CharField(max_length=100)
    at = fields.DatetimeField(db_index=True)

    record_id: int

    class Meta:
        table = "consent_event"


class ProfileAccess(Model):
    """Who read or exported which profile, when (for the data-protection officer)."""

    id = fields.IntField(primary_key=True)
    actor = fields.CharField(max_length=100)
    action = fields.CharField(max_length=32)
    profile_id = fields.IntField(null=True, db_index=True)
    detail = fields.CharField(max_length=500, default="")
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "profile_access"
