from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# A changed identifier retracts the links it made (issue 15): a removed link records the
# source of the observation that removed it, beside its actor, time and reason.


class Migration(migrations.Migration):
    dependencies = [('models', '0017_channels')]

    initial = False

    operations = [
        ops.AddField(
            model_name='IdentityLink',
            name='removed_source',
            field=fields.CharField(
                null=True, description='the observation that removed it', max_length=16
            ),
        ),
    ]
