from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0002_seat_ended_at')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Item',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=6)),
                ('parent', fields.ForeignKeyField('filestorage.Item', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('parent_key', fields.BigIntField(default=0)),
                ('ancestors', fields.CharField(default='/', db_index=True, max_length=1024)),
                ('name', fields.CharField(max_length=255)),
                ('live_name', fields.CharField(null=True, max_length=255)),
                ('size', fields.BigIntField(default=0)),
                ('content_type', fields.CharField(default='application/octet-stream', max_length=255)),
                ('sha256', fields.CharField(null=True, max_length=64)),
                ('version_id', fields.BigIntField(null=True)),
                ('version_count', fields.IntField(default=0)),
                ('created_by_id', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('modified_by_id', fields.BigIntField()),
                ('modified_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('trashed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('trashed_by_id', fields.BigIntField(null=True)),
                ('trash_root_id', fields.BigIntField(null=True)),
                ('locked_by_id', fields.BigIntField(null=True)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'filestorage_item', 'app': 'filestorage', 'unique_together': (('team', 'parent_key', 'live_name'),), 'pk_attr': 'id', 'table_description': 'A folder or a file. Names are unique among the live items of a folder (`live_name`).'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='ShareLink',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item', fields.ForeignKeyField('filestorage.Item', source_field='item_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(null=True, max_length=255)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('max_downloads', fields.IntField(null=True)),
                ('downloads', fields.IntField(default=0)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by_id', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'filestorage_share_link', 'app': 'filestorage', 'pk_attr': 'id', 'table_description': 'A public, read-only link to a file: optional password and expiry, revocable, counted.'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='Upload',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token', fields.CharField(unique=True, max_length=32)),
                ('user_id', fields.BigIntField()),
                ('folder_id', fields.BigIntField(null=True)),
                ('name', fields.CharField(max_length=255)),
                ('content_type', fields.CharField(max_length=255)),
                ('size', fields.BigIntField()),
                ('sha256', fields.CharField(null=True, max_length=64)),
                ('chunk_size', fields.BigIntField()),
                ('reserved_bytes', fields.BigIntField()),
                ('status', fields.CharField(default='open', max_length=10)),
                ('blob', fields.CharField(null=True, max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'filestorage_upload', 'app': 'filestorage', 'pk_attr': 'id', 'table_description': 'An upload in progress: its reservation, the chunks received, where it will land.'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='Chunk',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('upload', fields.ForeignKeyField('filestorage.Upload', source_field='upload_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('index', fields.IntField()),
                ('size', fields.BigIntField()),
            ],
            options={'table': 'filestorage_chunk', 'app': 'filestorage', 'unique_together': (('upload', 'index'),), 'pk_attr': 'id'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='Usage',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('used_bytes', fields.BigIntField(default=0)),
                ('charged_bytes', fields.BigIntField(default=0)),
                ('nearly_full', fields.BooleanField(default=False)),
            ],
            options={'table': 'filestorage_usage', 'app': 'filestorage', 'unique_together': (('team',),), 'pk_attr': 'id', 'table_description': 'The bytes of a team: `used` by stored versions, `charged` = used + reserved by open uploads.'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='Version',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item', fields.ForeignKeyField('filestorage.Item', source_field='item_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('blob', fields.CharField(max_length=100)),
                ('size', fields.BigIntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('content_type', fields.CharField(max_length=255)),
                ('created_by_id', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'filestorage_version', 'app': 'filestorage', 'unique_together': (('item', 'number'),), 'pk_attr': 'id', 'table_description': 'One content of a file: the newest is the current content of the file.'},
            bases=['TeamScoped'],
        ),
    ]
