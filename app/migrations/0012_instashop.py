import functools
from json import dumps, loads

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index

from app.domain.instashop import LookState, SlideKind, SuggestionSource, SuggestionState

# Instashop: the Instagram account (its token encrypted), looks, their slides with the re-hosted
# files, the products linked to a slide and the links suggested from captions. Written by hand:
# new tables only. 0010 and 0011 are another engineer's, landing now: this migration depends on
# the one committed before it (0010); when 0011 lands, point `dependencies` at it.


class Migration(migrations.Migration):
    dependencies = [('models', '0010_partner_webhooks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InstagramAccount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ig_user_id', fields.CharField(unique=True, description='or `me`', max_length=64)),
                ('token_encrypted', fields.TextField(description='Fernet token of the access token', unique=False)),
                ('token_issued_at', fields.DatetimeField(description='obtained or last refreshed', auto_now=False, auto_now_add=False)),
                ('token_expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('token_expired', fields.BooleanField(default=False, description='Instagram said code 190')),
                ('sync_lease_until', fields.DatetimeField(null=True, description='a sync runs until then', auto_now=False, auto_now_add=False)),
                ('paused_until', fields.DatetimeField(null=True, description='rate limit or usage back-off', auto_now=False, auto_now_add=False)),
                ('last_sync_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(default='', max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'instagram_account', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The one account synced, its long-lived token stored encrypted (Fernet).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Look',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('media_id', fields.CharField(unique=True, description="Instagram's id", max_length=64)),
                ('media_type', fields.CharField(description='IMAGE, VIDEO or CAROUSEL_ALBUM', max_length=32)),
                ('caption', fields.TextField(default='', unique=False)),
                ('permalink', fields.CharField(default='', max_length=500)),
                ('shortcode', fields.CharField(default='', max_length=64)),
                ('posted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('state', fields.CharEnumField(default=LookState.VISIBLE, description='VISIBLE: visible\nHIDDEN: hidden\nDELETED: deleted', enum_type=LookState, max_length=16)),
                ('pinned', fields.BooleanField(default=False)),
                ('position', fields.IntField(default=0, description='order among pinned looks')),
                ('seen_at', fields.DatetimeField(description='last sync that found it on Instagram', auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'look', 'app': 'models', 'indexes': [Index(fields=['state', 'posted_at'])], 'pk_attr': 'id', 'table_description': 'One Instagram post: an image, a video or a carousel of several slides.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LookSlide',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('look', fields.ForeignKeyField('models.Look', source_field='look_id', db_constraint=True, to_field='id', related_name='slides', on_delete=OnDelete.CASCADE)),
                ('media_id', fields.CharField(unique=True, max_length=64)),
                ('position', fields.IntField(default=0)),
                ('kind', fields.CharEnumField(description='IMAGE: image\nVIDEO: video', enum_type=SlideKind, max_length=16)),
                ('files', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('width', fields.IntField(default=0, description='of the full rendition')),
                ('height', fields.IntField(default=0)),
                ('ready', fields.BooleanField(default=False, description='every file is stored')),
                ('attempts', fields.IntField(default=0, description='failed downloads so far')),
                ('last_error', fields.CharField(default='', max_length=500)),
            ],
            options={'table': 'look_slide', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A carousel child (or the post itself), re-hosted: `files` maps a rendition to its key.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LookProduct',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slide', fields.ForeignKeyField('models.LookSlide', source_field='slide_id', db_constraint=True, to_field='id', related_name='products', on_delete=OnDelete.CASCADE)),
                ('product', fields.ForeignKeyField('models.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='look_links', on_delete=OnDelete.CASCADE)),
                ('colour', fields.CharField(null=True, max_length=64)),
                ('x', fields.FloatField(null=True, description='hotspot, 0..1 from the left')),
                ('y', fields.FloatField(null=True, description='hotspot, 0..1 from the top')),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'look_product', 'app': 'models', 'unique_together': (('slide', 'product'),), 'pk_attr': 'id', 'table_description': 'A product staff linked to a slide, optionally in one colour and at a point of the image.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LookSuggestion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('look', fields.ForeignKeyField('models.Look', source_field='look_id', db_constraint=True, to_field='id', related_name='suggestions', on_delete=OnDelete.CASCADE)),
                ('product', fields.ForeignKeyField('models.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='look_suggestions', on_delete=OnDelete.CASCADE)),
                ('colour', fields.CharField(null=True, max_length=64)),
                ('source', fields.CharEnumField(description='ARTICLE: article\nHASHTAG: hashtag', enum_type=SuggestionSource, max_length=16)),
                ('token', fields.CharField(description='what the caption said', max_length=120)),
                ('state', fields.CharEnumField(default=SuggestionState.OPEN, description='OPEN: open\nACCEPTED: accepted\nDISMISSED: dismissed', enum_type=SuggestionState, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'look_suggestion', 'app': 'models', 'unique_together': (('look', 'product'),), 'pk_attr': 'id', 'table_description': 'A product a caption names, waiting for staff to accept or dismiss it.'},
            bases=['Model'],
        ),
    ]
