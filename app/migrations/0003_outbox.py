from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from app.domain.outbox import EventKind, EventState, Target
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_checkout')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Customer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guid', fields.CharField(unique=True, description='1C Контрагент, CRM externalId', max_length=36)),
                ('email', fields.CharField(null=True, unique=True, max_length=254)),
                ('phone', fields.CharField(null=True, unique=True, description='E.164', max_length=20)),
                ('first_name', fields.CharField(default='', max_length=100)),
                ('last_name', fields.CharField(default='', max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'customer', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(unique=True, description='sent as X-Event-Id', max_length=36)),
                ('target', fields.CharEnumField(description='ONEC: onec\nRETAILCRM: retailcrm', enum_type=Target, max_length=16)),
                ('aggregate', fields.CharField(description='delivered in order per aggregate', max_length=80)),
                ('kind', fields.CharEnumField(description='CUSTOMER_UPSERTED: customer.upserted\nORDER_PLACED: order.placed\nORDER_STATUS_CHANGED: order.status_changed\nPAYMENT_STATUS_CHANGED: payment.status_changed', enum_type=EventKind, max_length=32)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('state', fields.CharEnumField(default=EventState.PENDING, description='PENDING: pending\nDELIVERED: delivered\nDEAD: dead', enum_type=EventState, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(default='', unique=False)),
                ('response_status', fields.IntField(null=True)),
                ('response_body', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox_event', 'app': 'models', 'indexes': [Index(fields=['target', 'aggregate', 'id']), Index(fields=['state', 'next_attempt_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Order',
            name='customer',
            field=fields.ForeignKeyField('models.Customer', source_field='customer_id', null=True, db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT),
        ),
    ]
