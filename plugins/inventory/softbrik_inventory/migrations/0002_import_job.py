from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from softbrik_inventory.models import ImportStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0003_indexes'), ('inventory', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ImportJob',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=10)),
                ('dry_run', fields.BooleanField(default=True)),
                ('filename', fields.CharField(default='', max_length=200)),
                ('size_bytes', fields.BigIntField(default=0)),
                ('status', fields.CharEnumField(default=ImportStatus.QUEUED, description='QUEUED: queued\nRUNNING: running\nDONE: done\nFAILED: failed', enum_type=ImportStatus, max_length=8)),
                ('phase', fields.CharField(default='', max_length=10)),
                ('rows_done', fields.IntField(default=0)),
                ('rows_total', fields.IntField(null=True)),
                ('created', fields.IntField(default=0)),
                ('updated', fields.IntField(default=0)),
                ('error_count', fields.IntField(default=0)),
                ('errors', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('message', fields.TextField(default='', unique=False)),
                ('actor_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'inventory_import', 'app': 'inventory', 'pk_attr': 'id', 'table_description': 'An uploaded CSV file being checked and imported in the background, with its progress.'},
            bases=['TeamScoped'],
        ),
    ]
