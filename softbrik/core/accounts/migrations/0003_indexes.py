from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0002_seat_ended_at')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Invitation',
            index=Index(fields=['team_id']),
        ),
        ops.AddIndex(
            model_name='Seat',
            index=Index(fields=['user_id']),
        ),
        ops.AddIndex(
            model_name='Session',
            index=Index(fields=['user_id']),
        ),
        ops.AddIndex(
            model_name='User',
            index=Index(fields=['team_id']),
        ),
    ]
