from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='TeamKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team_id', fields.IntField(unique=True)),
                ('wrapped', fields.BinaryField()),
                ('provider', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('rotated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'crypto_team_key', 'app': 'crypto', 'pk_attr': 'id', 'table_description': "A team's data key, wrapped by the key provider's master key."},
            bases=['Model'],
        ),
    ]
