from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# Integration tokens may expire. Written by hand as one AddField: a nullable column is added in
# place on both databases (no SQLite table rebuild, so the unique index on token_hash stays).
# No ";" in a description: the SQLite editor puts it in a /* comment */ of the ALTER TABLE,
# and a ";" there cuts the statement short ("incomplete input").


class Migration(migrations.Migration):
    dependencies = [('models', '0006_payment_cancelled')]

    initial = False

    operations = [
        ops.AddField(
            model_name='IntegrationToken',
            name='expires_at',
            field=fields.DatetimeField(null=True, description='refused from this instant on, null for never', auto_now=False, auto_now_add=False),
        ),
    ]
