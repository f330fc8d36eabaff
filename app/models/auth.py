"""Integration tokens for 1C and partners: only a hash is stored."""

from __future__ import annotations

from datetime import datetime

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model


class IntegrationToken(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    token_hash = fields.CharField(max_length=64, unique=True, description="sha256 hex")
    scopes: fields.Field[list[str]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(
        null=True, description="refused from this instant on, null for never"
    )

    class Meta:
        table = "integration_token"

    @classmethod
    async def record_use(cls, token_id: int, *, now: datetime, unless_since: datetime) -> None:
        """Write `now` as the last use unless a use at or after `unless_since` is written: of
        many calls at once only one writes, and only once per interval."""
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=unless_since)
        await cls.filter(stale, id=token_id).update(last_used_at=now)

    @classmethod
    async def revoke(cls, token_id: int, *, now: datetime) -> None:
        """Revoke the token unless it is revoked already (the first revocation's instant stays)."""
        await cls.filter(id=token_id, revoked_at__isnull=True).update(revoked_at=now)
