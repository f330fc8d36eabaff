from tortoise import migrations
from tortoise.migrations import operations as ops
from app.domain.payments import PaymentStatus
from app.domain.outbox import EventKind, Target
from app.domain.payments import RefundStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0003_outbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Address',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guid', fields.CharField(unique=True, description='the public id', max_length=36)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='addresses', on_delete=OnDelete.CASCADE)),
                ('label', fields.CharField(default='', description='Home, Work, ...', max_length=50)),
                ('recipient', fields.CharField(default='', max_length=200)),
                ('phone', fields.CharField(null=True, description='E.164', max_length=20)),
                ('city', fields.CharField(max_length=100)),
                ('street', fields.CharField(description='street, house, building', max_length=300)),
                ('apartment', fields.CharField(default='', max_length=50)),
                ('postcode', fields.CharField(default='', max_length=12)),
                ('comment', fields.CharField(default='', max_length=500)),
                ('is_default', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'customer_address', 'app': 'models', 'pk_attr': 'id', 'table_description': "A delivery address saved in a customer's account."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomerSession',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('refresh_hash', fields.CharField(unique=True, description='SHA-256', max_length=64)),
                ('previous_refresh_hash', fields.CharField(null=True, db_index=True, description='a reuse of it revokes the session', max_length=64)),
                ('access_hash', fields.CharField(null=True, description='the live access token', max_length=64)),
                ('user_agent', fields.CharField(default='', max_length=200)),
                ('ip', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customer_session', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One signed-in device: a revocable refresh token (hashed), rotated on every refresh.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Refund',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guid', fields.CharField(unique=True, description='Idempotence-Key', max_length=36)),
                ('payment', fields.ForeignKeyField('models.Payment', source_field='payment_id', db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.RESTRICT)),
                ('provider_refund_id', fields.CharField(null=True, unique=True, max_length=100)),
                ('amount', fields.BigIntField(description='kopecks')),
                ('status', fields.CharEnumField(db_index=True, description='PENDING: pending\nSUCCEEDED: succeeded\nCANCELED: canceled', enum_type=RefundStatus, max_length=16)),
                ('reason', fields.CharField(default='', max_length=250)),
                ('requested_by', fields.CharField(description="'auto' or the admin token name", max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'refund', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Money given back on a payment: asked for by the finance team, or automatically.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Cart',
            name='customer',
            field=fields.ForeignKeyField('models.Customer', source_field='customer_id', null=True, db_constraint=True, to_field='id', related_name='carts', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Customer',
            name='email_verified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Customer',
            name='password_hash',
            field=fields.CharField(null=True, description='argon2id', max_length=200),
        ),
        ops.AddField(
            model_name='Customer',
            name='phone_verified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='OutboxEvent',
            name='kind',
            field=fields.CharEnumField(description='CUSTOMER_UPSERTED: customer.upserted\nORDER_PLACED: order.placed\nORDER_STATUS_CHANGED: order.status_changed\nPAYMENT_STATUS_CHANGED: payment.status_changed\nCUSTOMER_MESSAGE: customer.message', enum_type=EventKind, max_length=32),
        ),
        ops.AlterField(
            model_name='OutboxEvent',
            name='target',
            field=fields.CharEnumField(description='ONEC: onec\nRETAILCRM: retailcrm\nNOTIFY: notify', enum_type=Target, max_length=16),
        ),
        ops.AlterModelOptions(
            name='Payment',
            options={'table': 'payment', 'app': 'models', 'unique_together': (('provider', 'provider_payment_id'), ('order', 'idempotency_key')), 'pk_attr': 'id', 'table_description': 'One attempt to take money for an order; written before the provider is asked, so a'},
        ),
        ops.AlterField(
            model_name='Payment',
            name='amount',
            field=fields.BigIntField(description='kopecks: asked for, then as captured'),
        ),
        ops.AlterField(
            model_name='Payment',
            name='guid',
            field=fields.CharField(unique=True, description='Idempotence-Key, metadata', max_length=36),
        ),
        ops.AlterField(
            model_name='Payment',
            name='provider_payment_id',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AlterField(
            model_name='Payment',
            name='status',
            field=fields.CharEnumField(db_index=True, description='PENDING: pending\nWAITING_FOR_CAPTURE: waiting_for_capture\nSUCCEEDED: succeeded\nCANCELED: canceled\nREFUNDED: refunded', enum_type=PaymentStatus, max_length=32),
        ),
        ops.AddField(
            model_name='Payment',
            name='cancellation_reason',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='Payment',
            name='checked_at',
            field=fields.DatetimeField(null=True, description='last read from the provider', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Payment',
            name='idempotency_key',
            field=fields.CharField(null=True, description="the client's", max_length=100),
        ),
        ops.AddField(
            model_name='Payment',
            name='paid_at',
            field=fields.DatetimeField(null=True, description='authorised or captured', auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Payment',
            name='refunded',
            field=fields.BigIntField(default=0, description='kopecks refunded so far'),
        ),
        ops.AddConstraint(
            model_name='Payment',
            constraint=UniqueConstraint(fields=('order', 'idempotency_key'), name=None),
        ),
    ]
