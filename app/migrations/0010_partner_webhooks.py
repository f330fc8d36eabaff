import functools
from json import dumps, loads

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.fields.base import OnDelete

from app.domain.webhooks import SubscriptionState

# Partners: their apps, the integration tokens that act for them, their webhook subscriptions
# and the collection releases they have been told of. Written by hand: new tables only (the
# subscriptions' deliveries are outbox rows of the new `partner` target, no new column). The
# enum descriptions tortoise would also re-state are left as they are, as in 0009.


class Migration(migrations.Migration):
    dependencies = [("models", "0009_shop_confirmation")]

    initial = False

    operations = [
        ops.CreateModel(
            name="CollectionRelease",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("collection_guid", fields.CharField(max_length=36)),
                ("release_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("announced_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "partner_release",
                "table_description": "A release of a collection that partners were told of, once per release instant.",
                "app": "models",
                "unique_together": (("collection_guid", "release_at"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="PartnerApp",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(unique=True, max_length=200)),
                (
                    "contact_email",
                    fields.CharField(description="told when a subscription stops", max_length=254),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "partner_app",
                "table_description": "A marketplace, a delivery service, an agency app: whoever integrates with the brand.",
                "app": "models",
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="PartnerToken",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "partner",
                    fields.ForeignKeyField(
                        "models.PartnerApp",
                        source_field="partner_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "token",
                    fields.OneToOneField(
                        "models.IntegrationToken",
                        source_field="token_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="partner_link",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
            ],
            options={
                "table": "partner_token",
                "table_description": "An integration token acting for a partner, which sees that partner alone.",
                "app": "models",
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WebhookSubscription",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "partner",
                    fields.ForeignKeyField(
                        "models.PartnerApp",
                        source_field="partner_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="subscriptions",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("url", fields.CharField(max_length=2000)),
                (
                    "events",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "collection_guid",
                    fields.CharField(
                        null=True, description="only events about this collection", max_length=36
                    ),
                ),
                (
                    "secret_salt",
                    fields.CharField(
                        description="the secret is derived from PARTNER_SECRET_KEY and this",
                        max_length=32,
                    ),
                ),
                ("api_version", fields.CharField(max_length=16)),
                (
                    "state",
                    fields.CharEnumField(
                        default=SubscriptionState.ACTIVE,
                        description="ACTIVE: active\nPAUSED: paused",
                        enum_type=SubscriptionState,
                        max_length=16,
                    ),
                ),
                (
                    "failure_streak",
                    fields.IntField(default=0, description="failed requests since the last 2xx"),
                ),
                (
                    "failing_since",
                    fields.DatetimeField(
                        null=True,
                        description="the first of those failures",
                        auto_now=False,
                        auto_now_add=False,
                    ),
                ),
                (
                    "resting_until",
                    fields.DatetimeField(
                        null=True,
                        description="nothing is tried before",
                        auto_now=False,
                        auto_now_add=False,
                    ),
                ),
                ("paused_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("pause_reason", fields.CharField(default="", max_length=300)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "webhook_subscription", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]
