import importlib

from tortoise import migrations
from tortoise import fields

from app.models.catalog import QueueMode

# The stock-aware waiting room (issue 11, item 4): a collection may put a queue in front of
# its variants (`queue_mode`). Its state lives in redis; the database only says which drops
# have one. Written by hand: a NOT NULL column with a database default, added in place on both
# databases (existing collections start without a queue).

AddNullableColumn = importlib.import_module("app.migrations.0008_contact_raw").AddNullableColumn


class Migration(migrations.Migration):
    dependencies = [("models", "0014_stock_stream")]

    initial = False

    operations = [
        AddNullableColumn(  # its SQLite backward drops the column in place (no table rebuild)
            model_name="Collection",
            name="queue_mode",
            field=fields.CharEnumField(
                QueueMode,
                max_length=16,
                default=QueueMode.OFF,
                db_default="off",
                description="off, or lottery: a waiting room in front of the drop",
            ),
        ),
    ]
