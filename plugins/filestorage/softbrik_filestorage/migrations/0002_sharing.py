from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0003_indexes'), ('filestorage', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Share',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item', fields.ForeignKeyField('filestorage.Item', source_field='item_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('user_id', fields.BigIntField(db_index=True)),
                ('access', fields.CharField(max_length=5)),
                ('created_by_id', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'filestorage_share', 'app': 'filestorage', 'unique_together': (('item', 'user_id'),), 'pk_attr': 'id', 'table_description': 'Another member may read or write an item of a member (a folder with all it holds).'},
            bases=['TeamScoped'],
        ),
        ops.AddField(
            model_name='Item',
            name='owner_id',
            field=fields.BigIntField(null=True, db_index=True),
        ),
    ]
