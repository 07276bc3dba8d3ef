from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    """Failed sign-ins keep the e-mail's keyed hash, not the address: the rows in clear go
    (they only throttle for minutes; a new column without a value cannot take them anyway)."""

    dependencies = [('accounts', '0003_indexes')]

    initial = False

    operations = [
        ops.RunSQL("DELETE FROM login_attempt", reverse_sql="DELETE FROM login_attempt"),
        ops.AddField(
            model_name='LoginAttempt',
            name='subject',
            field=fields.CharField(db_index=True, max_length=64),
        ),
        ops.RemoveField(model_name='LoginAttempt', name='email'),
    ]
