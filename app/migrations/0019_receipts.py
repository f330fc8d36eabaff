from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.fields.base import OnDelete

# Returns, refunds and closing receipts complete (issue 15): which marked units (Честный ЗНАК
# codes) each return took back, so its refund receipt carries exactly those codes and a later
# partial return never takes the same code again. Written by hand: one new table.


def _id() -> Any:
    return fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)


class Migration(migrations.Migration):
    dependencies = [('models', '0018_identity_changes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReturnedMarkingCode',
            fields=[
                ('id', _id()),
                ('order_return', fields.ForeignKeyField('models.OrderReturn', source_field='order_return_id', db_constraint=True, to_field='id', related_name='marking_codes', on_delete=OnDelete.CASCADE)),
                ('marking_code', fields.OneToOneField('models.MarkingCode', source_field='marking_code_id', db_constraint=True, to_field='id', related_name='returned', on_delete=OnDelete.CASCADE)),
                ('named', fields.BooleanField(description='named by the return (else picked by us)')),
            ],
            options={'table': 'returned_marking_code', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A marked unit that came back, and with which return.'},
            bases=['Model'],
        ),
    ]
