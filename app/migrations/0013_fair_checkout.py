import importlib

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index

# Fair under bots: the device a cart was last changed from and an order placed from (a digest,
# app/domain/checkout.py `device_key`), indexed for the purchase limits that count by device;
# `cart.updated_at` and `orders.cart_id` indexed for the idle-cart sweep; one claim per
# shopper identity and drop for the one-unpaid-order rule. Written by hand: nullable columns
# added in place on both databases (no SQLite table rebuild), indexes, one new table. 0011 is
# another engineer's, landing now: this migration depends on the newest one in the tree (0012).

AddNullableColumn = importlib.import_module("app.migrations.0008_contact_raw").AddNullableColumn


class Migration(migrations.Migration):
    dependencies = [('models', '0012_instashop')]

    initial = False

    operations = [
        AddNullableColumn(
            model_name='Cart',
            name='device',
            field=fields.CharField(null=True, description='the last device to change it', max_length=32),
        ),
        AddNullableColumn(
            model_name='Order',
            name='device',
            field=fields.CharField(null=True, description='placed from', max_length=32),
        ),
        ops.AddIndex(model_name='Cart', index=Index(fields=['updated_at'])),
        ops.AddIndex(model_name='Cart', index=Index(fields=['device'])),
        ops.AddIndex(model_name='Order', index=Index(fields=['device'])),
        ops.AddIndex(model_name='Order', index=Index(fields=['cart_id'])),
        ops.CreateModel(
            name='DropOrderClaim',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('collection', fields.ForeignKeyField('models.Collection', source_field='collection_id', db_constraint=True, to_field='id', related_name='order_claims', on_delete=OnDelete.CASCADE)),
                ('shopper', fields.CharField(description='digest of one identity', max_length=32)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='drop_claims', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'drop_order_claim', 'app': 'models', 'unique_together': (('collection', 'shopper'),), 'pk_attr': 'id', 'table_description': "One shopper identity's latest order in a drop (the one-unpaid-order rule)."},
            bases=['Model'],
        ),
    ]
