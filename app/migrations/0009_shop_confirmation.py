import importlib

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state import State

from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import DeclineReason, RequestState

# Shop confirmations in Slack: a request per shop and order, a line per reservation asked; the
# shop's on-duty mention; the units of an order line no warehouse could serve. Written by hand:
# new tables, and columns added in place on both databases (no SQLite table rebuild).

AddNullableColumn = importlib.import_module("app.migrations.0008_contact_raw").AddNullableColumn


class AddCountColumn(AddNullableColumn):  # type: ignore[valid-type,misc]
    """A NOT NULL integer column with a database default of 0, so rows already there get 0
    (tortoise adds NOT NULL without a default, which SQLite refuses on a table with rows)."""

    async def database_forward(
        self, app_label: str, old_state: State, new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if state_editor is None:
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        await state_editor._run_sql(
            f'ALTER TABLE "{model._meta.db_table}" ADD COLUMN "{self.name}" INT NOT NULL DEFAULT 0'
        )


class Migration(migrations.Migration):
    dependencies = [('models', '0008_contact_raw')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ShopRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order', fields.ForeignKeyField('models.Order', source_field='order_id', db_constraint=True, to_field='id', related_name='shop_requests', on_delete=OnDelete.CASCADE)),
                ('warehouse', fields.ForeignKeyField('models.Warehouse', source_field='warehouse_id', db_constraint=True, to_field='id', related_name='shop_requests', on_delete=OnDelete.RESTRICT)),
                ('state', fields.CharEnumField(default=RequestState.POSTING, enum_type=RequestState, max_length=16)),
                ('channel', fields.CharField(null=True, description='where it was posted', max_length=100)),
                ('message_ts', fields.CharField(null=True, description="Slack's message id", max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('posted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deadline', fields.DatetimeField(null=True, description='posted_at + the window', auto_now=False, auto_now_add=False)),
                ('remind_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'shop_request', 'app': 'models', 'indexes': [Index(fields=['state', 'deadline']), Index(fields=['state', 'created_at']), Index(fields=['warehouse_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ShopRequestLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('request', fields.ForeignKeyField('models.ShopRequest', source_field='request_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('reservation', fields.ForeignKeyField('models.Reservation', source_field='reservation_id', db_constraint=True, to_field='id', related_name='shop_request_lines', on_delete=OnDelete.RESTRICT)),
                ('order_line', fields.ForeignKeyField('models.OrderLine', source_field='order_line_id', db_constraint=True, to_field='id', related_name='shop_request_lines', on_delete=OnDelete.CASCADE)),
                ('quantity', fields.IntField()),
                ('state', fields.CharEnumField(default=ShopConfirmation.REQUESTED, enum_type=ShopConfirmation, max_length=16)),
                ('decided_by', fields.CharField(null=True, description='Slack user id', max_length=100)),
                ('decided_by_name', fields.CharField(null=True, max_length=100)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reason', fields.CharEnumField(null=True, enum_type=DeclineReason, max_length=32)),
                ('note', fields.CharField(default='', description='why it moved on by itself', max_length=200)),
            ],
            options={'table': 'shop_request_line', 'app': 'models', 'unique_together': (('reservation',),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        AddNullableColumn(
            model_name='Warehouse',
            name='slack_on_duty',
            field=fields.CharField(null=True, description='mentioned in reminders, e.g. <!subteam^S123>', max_length=100),
        ),
        AddCountColumn(
            model_name='OrderLine',
            name='unavailable',
            field=fields.IntField(default=0, description='units no warehouse could serve'),
        ),
    ]
