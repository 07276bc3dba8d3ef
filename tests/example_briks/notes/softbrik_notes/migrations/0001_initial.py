from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Note',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=200)),
                ('body', fields.BinaryField()),
                ('author_id', fields.IntField()),
            ],
            options={'table': 'notes_note', 'app': 'notes', 'pk_attr': 'id'},
            bases=['TeamScoped'],
        ),
    ]
