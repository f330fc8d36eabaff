"""Instashop aggregate: the brand's Instagram account, its posts as looks, their slides, the
products staff link to a slide and the links suggested from captions."""

from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model

from app.domain.instashop import LookState, SlideKind, SuggestionSource, SuggestionState
from app.models.catalog import Product


class InstagramAccount(Model):
    """The one account synced, its long-lived token stored encrypted (Fernet)."""

    id = fields.IntField(primary_key=True)
    ig_user_id = fields.CharField(max_length=64, unique=True, description="or `me`")
    token_encrypted = fields.TextField(description="Fernet token of the access token")
    token_issued_at = fields.DatetimeField(description="obtained or last refreshed")
    token_expires_at = fields.DatetimeField()
    token_expired = fields.BooleanField(default=False, description="Instagram said code 190")
    sync_lease_until = fields.DatetimeField(null=True, description="a sync runs until then")
    paused_until = fields.DatetimeField(null=True, description="rate limit or usage back-off")
    last_sync_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "instagram_account"


class Look(Model):
    """One Instagram post: an image, a video or a carousel of several slides."""

    id = fields.IntField(primary_key=True)
    media_id = fields.CharField(max_length=64, unique=True, description="Instagram's id")
    media_type = fields.CharField(max_length=32, description="IMAGE, VIDEO or CAROUSEL_ALBUM")
    caption = fields.TextField(default="")
    permalink = fields.CharField(max_length=500, default="")
    shortcode = fields.CharField(max_length=64, default="")
    posted_at = fields.DatetimeField()
    state = fields.CharEnumField(LookState, max_length=16, default=LookState.VISIBLE)
    pinned = fields.BooleanField(default=False)
    position = fields.IntField(default=0, description="order among pinned looks")
    seen_at = fields.DatetimeField(description="last sync that found it on Instagram")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "look"
        indexes = (("state", "posted_at"),)


class LookSlide(Model):
    """A carousel child (or the post itself), re-hosted: `files` maps a rendition to its key."""

    id = fields.IntField(primary_key=True)
    look: fields.ForeignKeyRelation[Look] = fields.ForeignKeyField(
        "models.Look", related_name="slides", on_delete=fields.CASCADE
    )
    media_id = fields.CharField(max_length=64, unique=True)
    position = fields.IntField(default=0)
    kind = fields.CharEnumField(SlideKind, max_length=16)
    files: dict[str, str] = fields.JSONField(default=dict)
    width = fields.IntField(default=0, description="of the full rendition")
    height = fields.IntField(default=0)
    ready = fields.BooleanField(default=False, description="every file is stored")
    attempts = fields.IntField(default=0, description="failed downloads so far")
    last_error = fields.CharField(max_length=500, default="")

    look_id: int

    class Meta:
        table = "look_slide"


class LookProduct(Model):
    """A product staff linked to a slide, optionally in one colour and at a point of the image."""

    id = fields.IntField(primary_key=True)
    slide: fields.ForeignKeyRelation[LookSlide] = fields.ForeignKeyField(
        "models.LookSlide", related_name="products", on_delete=fields.CASCADE
    )
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name="look_links", on_delete=fields.CASCADE
    )
    colour = fields.CharField(max_length=64, null=True)
    x = fields.FloatField(null=True, description="hotspot, 0..1 from the left")
    y = fields.FloatField(null=True, description="hotspot, 0..1 from the top")
    created_at = fields.DatetimeField(auto_now_add=True)

    slide_id: int
    product_id: int

    class Meta:
        table = "look_product"
        unique_together = (("slide", "product"),)


class LookSuggestion(Model):
    """A product a caption names, waiting for staff to accept or dismiss it."""

    id = fields.IntField(primary_key=True)
    look: fields.ForeignKeyRelation[Look] = fields.ForeignKeyField(
        "models.Look", related_name="suggestions", on_delete=fields.CASCADE
    )
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "models.Product", related_name="look_suggestions", on_delete=fields.CASCADE
    )
    colour = fields.CharField(max_length=64, null=True)
    source = fields.CharEnumField(SuggestionSource, max_length=16)
    token = fields.CharField(max_length=120, description="what the caption said")
    state = fields.CharEnumField(SuggestionState, max_length=16, default=SuggestionState.OPEN)
    created_at = fields.DatetimeField(auto_now_add=True)

    look_id: int
    product_id: int

    class Meta:
        table = "look_suggestion"
        unique_together = (("look", "product"),)


async def take_sync_lease(account_id: int, *, until: datetime, now: datetime) -> bool:
    """Claim the account's sync until `until`, unless another sync holds it (one UPDATE)."""
    free = Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lte=now)
    taken = await InstagramAccount.filter(free, id=account_id).update(sync_lease_until=until)
    return taken == 1
