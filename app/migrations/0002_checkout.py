from tortoise import migrations
from tortoise.migrations import operations as ops
from app.domain.orders import DeliveryKind, OrderStatus
from app.domain.payments import PaymentStatus
from app.domain.reservations import ReservationState, ShopConfirmation
from app.models.catalog import HoldMode
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Cart',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token', fields.CharField(unique=True, max_length=64)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('phone', fields.CharField(null=True, max_length=20)),
                ('first_name', fields.CharField(default='', max_length=100)),
                ('last_name', fields.CharField(default='', max_length=100)),
                ('delivery_kind', fields.CharEnumField(null=True, description='COURIER: courier\nPICKUP: pickup', enum_type=DeliveryKind, max_length=16)),
                ('delivery_address', fields.CharField(default='', max_length=500)),
                ('pickup_warehouse', fields.ForeignKeyField('models.Warehouse', source_field='pickup_warehouse_id', null=True, db_constraint=True, to_field='id', related_name='pickup_carts', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'cart', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CartLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('cart', fields.ForeignKeyField('models.Cart', source_field='cart_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('variant', fields.ForeignKeyField('models.Variant', source_field='variant_id', db_constraint=True, to_field='id', related_name='cart_lines', on_delete=OnDelete.CASCADE)),
                ('quantity', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'cart_line', 'app': 'models', 'unique_together': (('cart', 'variant'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guid', fields.CharField(unique=True, max_length=36)),
                ('number', fields.CharField(unique=True, max_length=20)),
                ('token', fields.CharField(unique=True, description="the shopper's secret", max_length=64)),
                ('idempotency_key', fields.CharField(unique=True, max_length=100)),
                ('cart', fields.ForeignKeyField('models.Cart', source_field='cart_id', null=True, db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.SET_NULL)),
                ('status', fields.CharEnumField(db_index=True, description='AWAITING_PAYMENT: awaiting_payment\nPAID: paid\nCANCELLED: cancelled', enum_type=OrderStatus, max_length=32)),
                ('email', fields.CharField(null=True, db_index=True, max_length=254)),
                ('phone', fields.CharField(null=True, db_index=True, max_length=20)),
                ('first_name', fields.CharField(default='', max_length=100)),
                ('last_name', fields.CharField(default='', max_length=100)),
                ('delivery_kind', fields.CharEnumField(description='COURIER: courier\nPICKUP: pickup', enum_type=DeliveryKind, max_length=16)),
                ('delivery_address', fields.CharField(default='', max_length=500)),
                ('pickup_warehouse', fields.ForeignKeyField('models.Warehouse', source_field='pickup_warehouse_id', null=True, db_constraint=True, to_field='id', related_name='pickup_orders', on_delete=OnDelete.RESTRICT)),
                ('total', fields.BigIntField(description='kopecks')),
                ('payment_deadline', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('registered_at', fields.DatetimeField(null=True, description="1C's clock", auto_now=False, auto_now_add=False)),
                ('onec_number', fields.CharField(null=True, description='1C ЗаказКлиента №', max_length=50)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'orders', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('variant', fields.ForeignKeyField('models.Variant', source_field='variant_id', db_constraint=True, to_field='id', related_name='order_lines', on_delete=OnDelete.RESTRICT)),
                ('quantity', fields.IntField()),
                ('unit_price', fields.BigIntField(description='kopecks, as sold')),
                ('product_name', fields.CharField(max_length=300)),
                ('sku', fields.CharField(max_length=64)),
            ],
            options={'table': 'order_line', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderStatusChange',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='history', on_delete=OnDelete.CASCADE)),
                ('from_status', fields.CharEnumField(null=True, description='AWAITING_PAYMENT: awaiting_payment\nPAID: paid\nCANCELLED: cancelled', enum_type=OrderStatus, max_length=32)),
                ('to_status', fields.CharEnumField(description='AWAITING_PAYMENT: awaiting_payment\nPAID: paid\nCANCELLED: cancelled', enum_type=OrderStatus, max_length=32)),
                ('reason', fields.CharField(default='', max_length=200)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'order_status_change', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Payment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guid', fields.CharField(unique=True, max_length=36)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.RESTRICT)),
                ('provider', fields.CharField(max_length=32)),
                ('provider_payment_id', fields.CharField(max_length=100)),
                ('status', fields.CharEnumField(description='PENDING: pending\nWAITING_FOR_CAPTURE: waiting_for_capture\nSUCCEEDED: succeeded\nCANCELED: canceled\nREFUNDED: refunded', enum_type=PaymentStatus, max_length=32)),
                ('amount', fields.BigIntField(description='kopecks')),
                ('confirmation_url', fields.CharField(null=True, max_length=1000)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'payment', 'app': 'models', 'unique_together': (('provider', 'provider_payment_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Reservation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('variant', fields.ForeignKeyField('models.Variant', source_field='variant_id', db_constraint=True, to_field='id', related_name='reservations', on_delete=OnDelete.RESTRICT)),
                ('warehouse', fields.ForeignKeyField('models.Warehouse', source_field='warehouse_id', db_constraint=True, to_field='id', related_name='reservations', on_delete=OnDelete.RESTRICT)),
                ('quantity', fields.IntField()),
                ('state', fields.CharEnumField(description='HELD: held\nACTIVE: active\nRELEASED: released\nRECONCILED: reconciled', enum_type=ReservationState, max_length=16)),
                ('cart_line', fields.ForeignKeyField('models.CartLine', source_field='cart_line_id', null=True, db_constraint=True, to_field='id', related_name='holds', on_delete=OnDelete.SET_NULL)),
                ('order_line', fields.ForeignKeyField('models.OrderLine', source_field='order_line_id', null=True, db_constraint=True, to_field='id', related_name='reservations', on_delete=OnDelete.RESTRICT)),
                ('shop_confirmation', fields.CharEnumField(default=ShopConfirmation.NOT_NEEDED, description='NOT_NEEDED: not_needed\nREQUESTED: requested\nCONFIRMED: confirmed\nDECLINED: declined\nTIMED_OUT: timed_out', enum_type=ShopConfirmation, max_length=16)),
                ('expires_at', fields.DatetimeField(null=True, description='holds only', auto_now=False, auto_now_add=False)),
                ('registered_at', fields.DatetimeField(null=True, description="1C's clock, from 1C's answer", auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('closed_at', fields.DatetimeField(null=True, description='when released or reconciled', auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'reservation', 'app': 'models', 'indexes': [Index(fields=['variant_id', 'warehouse_id', 'state']), Index(fields=['state', 'expires_at'])], 'pk_attr': 'id', 'table_description': "Units of one variant in one warehouse held for a cart or an order: the buffer's rows."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Collection',
            name='hold_minutes',
            field=fields.IntField(default=10),
        ),
        ops.AddField(
            model_name='Collection',
            name='hold_mode',
            field=fields.CharEnumField(default=HoldMode.AT_ORDER, description='AT_ORDER: at_order\nAT_CART: at_cart', enum_type=HoldMode, max_length=16),
        ),
        ops.AddField(
            model_name='Collection',
            name='purchase_limit',
            field=fields.IntField(null=True, description='most units of a variant per shopper'),
        ),
    ]
