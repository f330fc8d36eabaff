"""Partner apps, the tokens they call with, and their webhook subscriptions.

A subscription's deliveries are outbox rows (target `partner`, aggregate
`partner:<subscription id>:<entity>:<guid>`), written in the transaction of the change.
"""

from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.expressions import F, Q
from tortoise.models import Model

from app.domain.webhooks import SubscriptionState
from app.models.auth import IntegrationToken


class PartnerApp(Model):
    """A marketplace, a delivery service, an agency app: whoever integrates with the brand."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    contact_email = fields.CharField(max_length=254, description="told when a subscription stops")
    created_at = fields.DatetimeField()

    class Meta:
        table = "partner_app"


class PartnerToken(Model):
    """An integration token acting for a partner, which sees that partner alone.

    Its requests are rate limited. A partner may hold several (rotation)."""

    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[PartnerApp] = fields.ForeignKeyField(
        "models.PartnerApp", related_name="tokens", on_delete=fields.CASCADE
    )
    token: fields.OneToOneRelation[IntegrationToken] = fields.OneToOneField(
        "models.IntegrationToken", related_name="partner_link", on_delete=fields.CASCADE
    )

    partner_id: int
    token_id: int

    class Meta:
        table = "partner_token"


class WebhookSubscription(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[PartnerApp] = fields.ForeignKeyField(
        "models.PartnerApp", related_name="subscriptions", on_delete=fields.CASCADE
    )
    url = fields.CharField(max_length=2000)
    events: fields.Field[list[str]] = fields.JSONField(default=list)
    collection_guid = fields.CharField(
        max_length=36, null=True, description="only events about this collection"
    )
    secret_salt = fields.CharField(
        max_length=32, description="the secret is derived from PARTNER_SECRET_KEY and this"
    )
    api_version = fields.CharField(max_length=16)
    state = fields.CharEnumField(SubscriptionState, max_length=16, default=SubscriptionState.ACTIVE)
    failure_streak = fields.IntField(default=0, description="failed requests since the last 2xx")
    failing_since = fields.DatetimeField(null=True, description="the first of those failures")
    resting_until = fields.DatetimeField(null=True, description="nothing is tried before")
    paused_at = fields.DatetimeField(null=True)
    pause_reason = fields.CharField(max_length=300, default="")
    created_at = fields.DatetimeField()

    partner_id: int

    class Meta:
        table = "webhook_subscription"

    @classmethod
    async def note_success(cls, subscription_id: int) -> None:
        """The receiver took an event: its failure streak ends (no write when there was none)."""
        await cls.filter(id=subscription_id, failure_streak__gt=0).update(
            failure_streak=0, failing_since=None, resting_until=None
        )

    @classmethod
    async def note_failure(
        cls, subscription_id: int, *, now: datetime, rest_until: datetime
    ) -> None:
        """Count a failed request; the first of a streak sets `failing_since`."""
        await cls.filter(id=subscription_id, failing_since__isnull=True).update(failing_since=now)
        await cls.filter(id=subscription_id).update(
            failure_streak=F("failure_streak") + 1, resting_until=rest_until
        )

    @classmethod
    async def pause(cls, subscription_id: int, *, now: datetime, reason: str) -> bool:
        """Stop sending (first pause wins); True if this call paused it."""
        changed = await cls.filter(id=subscription_id, state=SubscriptionState.ACTIVE).update(
            state=SubscriptionState.PAUSED, paused_at=now, pause_reason=reason[:300]
        )
        return bool(changed)

    @classmethod
    def deliverable(cls, now: datetime) -> Q:
        """Active and not resting after a failure."""
        resting = Q(resting_until__isnull=True) | Q(resting_until__lte=now)
        return Q(state=SubscriptionState.ACTIVE) & resting


class CollectionRelease(Model):
    """A release of a collection that partners were told of, once per release instant."""

    id = fields.IntField(primary_key=True)
    collection_guid = fields.CharField(max_length=36)
    release_at = fields.DatetimeField()
    announced_at = fields.DatetimeField()

    class Meta:
        table = "partner_release"
        unique_together = (("collection_guid", "release_at"),)
