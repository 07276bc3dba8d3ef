from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('billing', '0002_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OutgoingMail',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team_id', fields.IntField()),
                ('message', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outgoing_mail', 'app': 'billing', 'pk_attr': 'id', 'table_description': 'An e-mail of a billing step not sent yet, written in the transaction of the step and'},
            bases=['Model'],
        ),
    ]
