import importlib

from tortoise import migrations
from tortoise import fields

# The stock-change stream (issue 10): every write that moves on_hand or buffer bumps its row's
# `version`, so a variant's figure carries Σ of its rows' versions and consumers keep the
# newest without trusting publish order. Written by hand: a NOT NULL column with a database
# default, added in place on both databases (existing rows start at 0).

AddNullableColumn = importlib.import_module("app.migrations.0008_contact_raw").AddNullableColumn


class Migration(migrations.Migration):
    dependencies = [('models', '0013_fair_checkout')]

    initial = False

    operations = [
        AddNullableColumn(  # its SQLite backward drops the column in place (no table rebuild)
            model_name='StockLevel',
            name='version',
            field=fields.IntField(default=0, db_default=0, description='bumped by every write of on_hand or buffer'),
        ),
    ]
