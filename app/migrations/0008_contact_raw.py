from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state import State

# The phone as the shopper typed it, kept beside its E.164 form (`phone`) on carts, orders and
# customers. Written by hand as AddFields: nullable columns are added in place on both
# databases (no SQLite table rebuild). Rows written before stay NULL: what was typed is gone.
# No ";" in a description (the SQLite editor puts it in a /* comment */ of the ALTER TABLE).

RAW = "as the shopper typed it"


class AddNullableColumn(ops.AddField):
    """Going back, SQLite drops the column in place (ALTER TABLE … DROP COLUMN, SQLite 3.35+):
    tortoise would rebuild the table, and with payments and order lines pointing at orders
    the DROP TABLE of the rebuild fails on the foreign keys."""

    async def database_backward(
        self, app_label: str, old_state: State, new_state: State,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if state_editor is None or state_editor.DIALECT != "sqlite":
            await super().database_backward(app_label, old_state, new_state, state_editor)
            return
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        await state_editor._run_sql(f'ALTER TABLE "{model._meta.db_table}" DROP COLUMN "{self.name}"')


class Migration(migrations.Migration):
    dependencies = [('models', '0007_token_lifecycle')]

    initial = False

    operations = [
        AddNullableColumn(
            model_name='Cart',
            name='phone_raw',
            field=fields.CharField(null=True, description=RAW, max_length=64),
        ),
        AddNullableColumn(
            model_name='Order',
            name='phone_raw',
            field=fields.CharField(null=True, description=RAW, max_length=64),
        ),
        AddNullableColumn(
            model_name='Customer',
            name='phone_raw',
            field=fields.CharField(null=True, description=RAW, max_length=64),
        ),
    ]
