from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.fields.base import OnDelete

from app.domain.identity import Channel, CustomerSource, Identifier, LinkRemoval, LinkRule, SuggestionState

# One customer across channels (issue 15): source records as they came, the links between them
# and staff's suggestions, purchases made outside our site, the consent ledger and the log of
# profile reads. Written by hand: new tables only.

ID = ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True))


def _record(related: str, on_delete: Any = OnDelete.CASCADE, name: str = 'record') -> tuple[str, Any]:
    return (name, fields.ForeignKeyField('models.IdentityRecord', source_field=f'{name}_id', db_constraint=True, to_field='id', related_name=related, on_delete=on_delete))


def _dt(null: bool = False, **kw: Any) -> Any:
    field: Any = fields.DatetimeField
    return field(null=null, auto_now=False, auto_now_add=False, **kw)


class Migration(migrations.Migration):
    dependencies = [('models', '0015_waiting_room')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdentityRecord',
            fields=[
                ID,
                ('source', fields.CharEnumField(enum_type=CustomerSource, max_length=16)),
                ('external_id', fields.CharField(max_length=100, description="the id in its source")),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', null=True, db_constraint=True, to_field='id', related_name='identity_records', on_delete=OnDelete.SET_NULL)),
                ('profile_id', fields.IntField(db_index=True, description='smallest record id of its group')),
                ('name', fields.CharField(null=True, max_length=200)),
                ('phone', fields.CharField(null=True, db_index=True, max_length=20, description='E.164')),
                ('phone_raw', fields.CharField(null=True, max_length=64, description='as the source had it')),
                ('phone_verified', fields.BooleanField(default=False)),
                ('email', fields.CharField(null=True, db_index=True, max_length=254, description='lower case')),
                ('email_raw', fields.CharField(null=True, max_length=254)),
                ('email_verified', fields.BooleanField(default=False)),
                ('loyalty_card', fields.CharField(null=True, db_index=True, max_length=32)),
                ('onec_guid', fields.CharField(null=True, db_index=True, max_length=36)),
                ('retailcrm_id', fields.CharField(null=True, db_index=True, max_length=64)),
                ('actor', fields.CharField(max_length=100, description='who last wrote it')),
                ('created_at', _dt()),
                ('updated_at', _dt()),
                ('erased_at', _dt(null=True, description='personal data removed on request')),
            ],
            options={'table': 'identity_record', 'app': 'models', 'unique_together': (('source', 'external_id'),), 'pk_attr': 'id', 'table_description': 'One customer record from one source, as it came (plus its cleaned identifiers).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IdentityLink',
            fields=[
                ID,
                _record('links_left', name='left'),
                _record('links_right', name='right'),
                ('rule', fields.CharEnumField(enum_type=LinkRule, max_length=16)),
                ('value', fields.CharField(default='', db_index=True, max_length=254)),
                ('source', fields.CharField(max_length=16, description='the observation that made it')),
                ('actor', fields.CharField(max_length=100)),
                ('created_at', _dt()),
                ('removed_at', _dt(null=True)),
                ('removed_by', fields.CharField(null=True, max_length=100)),
                ('removed_reason', fields.CharEnumField(enum_type=LinkRemoval, null=True, max_length=16)),
            ],
            options={'table': 'identity_link', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Two records are one person, and why: removed links stay (an unmerge is never redone).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IdentitySuggestion',
            fields=[
                ID,
                _record('suggestions_left', name='left'),
                _record('suggestions_right', name='right'),
                ('kind', fields.CharEnumField(enum_type=Identifier, max_length=16)),
                ('value', fields.CharField(default='', max_length=254)),
                ('state', fields.CharEnumField(enum_type=SuggestionState, db_index=True, max_length=16)),
                ('created_at', _dt()),
                ('decided_at', _dt(null=True)),
                ('decided_by', fields.CharField(null=True, max_length=100)),
            ],
            options={'table': 'identity_suggestion', 'app': 'models', 'unique_together': (('left', 'right', 'kind'),), 'pk_attr': 'id', 'table_description': 'A match on data nobody verified: staff accept (a STAFF link) or dismiss it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChannelPurchase',
            fields=[
                ID,
                _record('purchases', OnDelete.RESTRICT),
                ('channel', fields.CharEnumField(enum_type=Channel, max_length=16)),
                ('external_ref', fields.CharField(max_length=100)),
                ('at', _dt(db_index=True)),
                ('is_return', fields.BooleanField(default=False)),
                ('amount_kopecks', fields.BigIntField(description="sum of the lines, negative on a return")),
                ('created_at', _dt()),
            ],
            options={'table': 'channel_purchase', 'app': 'models', 'unique_together': (('channel', 'external_ref'),), 'pk_attr': 'id', 'table_description': 'A purchase or a return outside our site orders (a shop receipt, an order a manager took).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChannelPurchaseLine',
            fields=[
                ID,
                ('purchase', fields.ForeignKeyField('models.ChannelPurchase', source_field='purchase_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('variant', fields.ForeignKeyField('models.Variant', source_field='variant_id', null=True, db_constraint=True, to_field='id', related_name='channel_lines', on_delete=OnDelete.SET_NULL)),
                ('quantity', fields.IntField()),
                ('amount_kopecks', fields.BigIntField()),
            ],
            options={'table': 'channel_purchase_line', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ConsentEvent',
            fields=[
                ID,
                _record('consents', OnDelete.RESTRICT),
                ('purpose', fields.CharField(max_length=16, description='personal_data | marketing')),
                ('channel', fields.CharField(null=True, max_length=16, description='marketing only')),
                ('granted', fields.BooleanField()),
                ('text_version', fields.CharField(max_length=64, description="version of the document")),
                ('source', fields.CharField(max_length=16, description='site, shop, retailcrm, staff')),
                ('device', fields.CharField(default='', max_length=200, description='user agent or shop')),
                ('actor', fields.CharField(max_length=100)),
                ('at', _dt(db_index=True)),
            ],
            options={'table': 'consent_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One grant or withdrawal, with its proof. Append-only: the current state is derived.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProfileAccess',
            fields=[
                ID,
                ('actor', fields.CharField(max_length=100)),
                ('action', fields.CharField(max_length=32)),
                ('profile_id', fields.IntField(null=True, db_index=True)),
                ('detail', fields.CharField(default='', max_length=500)),
                ('at', _dt(db_index=True)),
            ],
            options={'table': 'profile_access', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Who read or exported which profile, when (for the data-protection officer).'},
            bases=['Model'],
        ),
    ]
