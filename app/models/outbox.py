"""The transactional outbox: what 1C and RetailCRM must hear, written with the change itself."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from app.domain.outbox import EventKind, EventState, Target


class OutboxEvent(Model):
    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=36, unique=True, description="sent as X-Event-Id")
    target = fields.CharEnumField(Target, max_length=16)
    aggregate = fields.CharField(max_length=80, description="delivered in order per aggregate")
    kind = fields.CharEnumField(EventKind, max_length=32)
    payload: fields.Field[dict[str, Any]] = fields.JSONField()
    state = fields.CharEnumField(EventState, max_length=16, default=EventState.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.TextField(default="")
    response_status = fields.IntField(null=True)
    response_body = fields.TextField(default="")
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_event"
        indexes = (("target", "aggregate", "id"), ("state", "next_attempt_at"))
