from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('crypto', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='TeamKey',
            name='wrapped_by',
            field=fields.CharField(default='', max_length=255),
        ),
    ]
