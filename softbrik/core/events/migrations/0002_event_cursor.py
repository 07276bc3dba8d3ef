from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('events', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EventCursor',
            fields=[
                ('consumer', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('position', fields.BigIntField(default=0)),
                ('attempts', fields.IntField(default=0)),
                ('retry_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'event_cursor', 'app': 'events', 'pk_attr': 'consumer', 'table_description': "How far one consumer (a Brik's `softbrik_event` handler) has read the log."},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Event',
            index=Index(fields=['team_id', 'id']),
        ),
    ]
