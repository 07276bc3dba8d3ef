from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial'), ('accounts', '0002_seat_ended_at'), ('accounts', '0003_indexes'), ('filestorage', '0002_sharing')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Chunk',
            name='key',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='Version',
            name='upload_id',
            field=fields.BigIntField(null=True),
        ),
    ]
