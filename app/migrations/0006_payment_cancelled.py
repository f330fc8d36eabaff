from tortoise import migrations
from tortoise.migrations import operations as ops
from app.domain.payments import PaymentStatus, RefundStatus
from tortoise import fields
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state import State

# One spelling for one word: payments and refunds say "cancelled", as orders already do.
# YooKassa's "canceled" is translated in app/integrations/payments/yookassa/mapping.py.
# Both status columns are plain VARCHARs (no CHECK), wide enough for the longer word, so only
# the rows change; the fields' descriptions (the enum's members) follow in the state.


class AlterDescription(ops.AlterField):
    """A field whose description alone changed. PostgreSQL updates the column comment; SQLite
    keeps its table: tortoise would rebuild it, which drops its indexes and, with refunds
    pointing at a payment, fails on the foreign key."""

    async def database_forward(
        self, app_label: str, old_state: State, new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if state_editor is not None and state_editor.DIALECT != "sqlite":
            await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(
        self, app_label: str, old_state: State, new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if state_editor is not None and state_editor.DIALECT != "sqlite":
            await super().database_backward(app_label, old_state, new_state, state_editor)


def respell(table: str, old: str, new: str) -> str:
    return f"UPDATE {table} SET status = '{new}' WHERE status = '{old}'"


class Migration(migrations.Migration):
    dependencies = [('models', '0005_payment_surplus')]

    initial = False

    operations = [
        AlterDescription(
            model_name='Payment',
            name='status',
            field=fields.CharEnumField(db_index=True, description='PENDING: pending\nWAITING_FOR_CAPTURE: waiting_for_capture\nSUCCEEDED: succeeded\nCANCELLED: cancelled\nREFUNDED: refunded', enum_type=PaymentStatus, max_length=32),
        ),
        AlterDescription(
            model_name='Refund',
            name='status',
            field=fields.CharEnumField(db_index=True, description='PENDING: pending\nSUCCEEDED: succeeded\nCANCELLED: cancelled', enum_type=RefundStatus, max_length=16),
        ),
        ops.RunSQL(
            [respell('payment', 'canceled', 'cancelled'), respell('refund', 'canceled', 'cancelled')],
            reverse_sql=[respell('payment', 'cancelled', 'canceled'), respell('refund', 'cancelled', 'canceled')],
        ),
    ]
