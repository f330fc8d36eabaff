from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index

from app.domain.shop_sales import ReceiptKind

# Everything that happens elsewhere comes in (issue 15): shop till receipts from 1C:Розница with
# their lines, how an order went out (carrier, tracking, one marking code per unit), the units
# that came back with the refund they made, and the cursors of the RetailCRM histories we pull.
# Written by hand: new tables only.


def _id() -> Any:
    return fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)


def _fk(model: str, column: str, related: str, on_delete: Any, **extra: Any) -> Any:
    return fields.ForeignKeyField(
        model, source_field=column, db_constraint=True, to_field='id', related_name=related,
        on_delete=on_delete, **extra,
    )


class Migration(migrations.Migration):
    dependencies = [('models', '0016_identity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ShopReceipt',
            fields=[
                ('id', _id()),
                ('guid', fields.CharField(unique=True, description="1C's receipt GUID", max_length=36)),
                ('kind', fields.CharEnumField(description='SALE: sale\nRETURN: return', enum_type=ReceiptKind, max_length=8)),
                ('shop', _fk('models.Warehouse', 'shop_id', 'receipts', OnDelete.RESTRICT)),
                ('sold_at', fields.DatetimeField(db_index=True, description="1C's clock", auto_now=False, auto_now_add=False)),
                ('sale_guid', fields.CharField(null=True, description='a return: its sale', max_length=36)),
                ('phone', fields.CharField(null=True, description='as the till saw it', max_length=64)),
                ('loyalty_card', fields.CharField(null=True, max_length=64)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('customer_guid', fields.CharField(null=True, description='1C Контрагент', max_length=36)),
                ('customer_key', fields.CharField(description='the source record it is in', max_length=300)),
                ('identity_record_id', fields.IntField(null=True, description='the identity source record')),
                ('total', fields.BigIntField(description='kopecks paid (a return: given back)')),
                ('fingerprint', fields.CharField(description='digest of the receipt as sent', max_length=64)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'shop_receipt', 'app': 'models', 'indexes': [Index(fields=['sale_guid']), Index(fields=['customer_key'])], 'pk_attr': 'id', 'table_description': 'A till receipt (ЧекККМ) or a return receipt (ЧекККМВозврат) from 1C:Розница.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ShopReceiptLine',
            fields=[
                ('id', _id()),
                ('receipt', _fk('models.ShopReceipt', 'receipt_id', 'lines', OnDelete.CASCADE)),
                ('variant_guid', fields.CharField(max_length=36)),
                ('variant', _fk('models.Variant', 'variant_id', 'receipt_lines', OnDelete.RESTRICT, null=True, description='null: sold in shops only (not in our catalog)')),
                ('quantity', fields.IntField()),
                ('price', fields.BigIntField(description='kopecks per unit')),
                ('discount', fields.BigIntField(description='kopecks off the line')),
                ('amount', fields.BigIntField(description='kopecks paid for the line')),
            ],
            options={'table': 'shop_receipt_line', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderShipment',
            fields=[
                ('id', _id()),
                ('order', fields.OneToOneField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='shipment', on_delete=OnDelete.CASCADE)),
                ('carrier', fields.CharField(max_length=100)),
                ('tracking_number', fields.CharField(default='', max_length=100)),
                ('shipped_at', fields.DatetimeField(description="1C's clock", auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'order_shipment', 'app': 'models', 'pk_attr': 'id', 'table_description': 'How an order went out, as 1C reported it: the carrier and its tracking number.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MarkingCode',
            fields=[
                ('id', _id()),
                ('order', _fk('models.Order', 'order_id', 'marking_codes', OnDelete.CASCADE)),
                ('variant', _fk('models.Variant', 'variant_id', 'marking_codes', OnDelete.RESTRICT)),
                ('code', fields.CharField(max_length=255)),
            ],
            options={'table': 'marking_code', 'app': 'models', 'unique_together': (('order', 'code'),), 'pk_attr': 'id', 'table_description': "A unit's marking code (Честный ЗНАК DataMatrix), one row per unit shipped."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderReturn',
            fields=[
                ('id', _id()),
                ('guid', fields.CharField(unique=True, description="1C's return document", max_length=36)),
                ('order', _fk('models.Order', 'order_id', 'returns', OnDelete.CASCADE)),
                ('returned_at', fields.DatetimeField(description="1C's clock", auto_now=False, auto_now_add=False)),
                ('amount', fields.BigIntField(description='kopecks the units were sold for')),
                ('refund', _fk('models.Refund', 'refund_id', 'returns', OnDelete.SET_NULL, null=True)),
                ('reason', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'order_return', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Units of an order that came back (a 1C return document), and the refund they made.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderReturnLine',
            fields=[
                ('id', _id()),
                ('order_return', _fk('models.OrderReturn', 'order_return_id', 'lines', OnDelete.CASCADE)),
                ('variant', _fk('models.Variant', 'variant_id', 'returned_lines', OnDelete.RESTRICT)),
                ('quantity', fields.IntField()),
            ],
            options={'table': 'order_return_line', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HistoryCursor',
            fields=[
                ('id', _id()),
                ('name', fields.CharField(unique=True, description='e.g. retailcrm:orders', max_length=64)),
                ('since_id', fields.BigIntField(default=0, description='the last history id applied')),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'history_cursor', 'app': 'models', 'pk_attr': 'id', 'table_description': "Where a pulled history stands (RetailCRM's `sinceId`)."},
            bases=['Model'],
        ),
    ]
