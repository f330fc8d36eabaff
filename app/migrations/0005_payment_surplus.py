from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_accounts_payments')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Payment',
            name='surplus',
            field=fields.BooleanField(default=False, description='holds money the order does not need: given back by itself'),
        ),
    ]
