"""Integration tokens for 1C and partners: only a hash is stored."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class IntegrationToken(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    token_hash = fields.CharField(max_length=64, unique=True, description="sha256 hex")
    scopes: fields.Field[list[str]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "integration_token"
